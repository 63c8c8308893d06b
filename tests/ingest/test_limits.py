"""Limits and bad input: 413 over the body cap, 429 with Retry-After per token, 400/422 for
what is not valid, and never a 500 whatever the body, path or headers."""

from __future__ import annotations

import contextlib
import json
import random
import socket
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.ingest import credentials
from sync_engine.ingest.app import IngestConfig
from sync_engine.ingest.ratelimit import RateLimiter
from tests.ingest.conftest import Api, start_api


@pytest.fixture
def tight_api(sqlite_url: str, sim_server: SimulatorServer, sim: SimulatorState) -> Iterator[Api]:
    """The API with a 2 KB body cap and 3 requests per token before a slow refill."""
    yield from start_api(
        sqlite_url, sim_server, IngestConfig(max_body_bytes=2048, rate_per_second=0.5, burst=3)
    )


def test_a_body_over_the_cap_is_a_413_declared_or_streamed(tight_api: Api) -> None:
    big = {"name": "x" * 4000}
    assert tight_api.call("PUT", "/sequences/s", big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        yield b'{"name": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    answer = tight_api.client.put(
        f"{tight_api.root}/sequences/s", content=chunks(),
        headers={"Authorization": f"Bearer {tight_api.token}"},
    )  # fmt: skip
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"


def test_a_token_over_its_rate_gets_429_with_retry_after_and_others_are_not_slowed(
    tight_api: Api,
) -> None:
    answers = [tight_api.put_sequence(f"s{i}") for i in range(4)]
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert answers[-1].headers["retry-after"] == "2"
    with tight_api.runtime.db.write() as session:
        other = credentials.create_token(
            session=session, account_id=tight_api.account_id, name="second", actor="test",
        )  # fmt: skip
    assert tight_api.put_sequence("s9", token=other.token).status_code == 201


def test_the_limiter_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 2, clock=lambda: now[0])
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.5]
    now[0] = 0.5
    assert limiter.acquire("k") == 0.0
    assert limiter.acquire("k") == pytest.approx(0.5)
    assert limiter.acquire("other") == 0.0


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"", 400),
        (b"{not json", 400),
        (b"\xff\xfe\x00", 400),
        (b"[]", 422),
        (b'"just a string"', 422),
        (b'{"name": ""}', 422),
        (b'{"name": "ok", "disable_sync": "maybe"}', 422),
        (b'{"name": "ok", "project_id": "has spaces!"}', 422),
        (b'{"name": "ok", "surprise": 1}', 422),
        (b'{"name": 12}', 422),
    ],
)
def test_bad_sequence_bodies_are_answered_with_one_clear_line(
    sqlite_api: Api, raw: bytes, status: int
) -> None:
    answer = sqlite_api.call("PUT", "/sequences/s", raw=raw)
    assert answer.status_code == status, answer.text
    message = answer.json()["error"]["message"]
    assert message and "\n" not in message


def test_bad_paths_are_4xx(sqlite_api: Api) -> None:
    assert sqlite_api.client.get("/v1/accounts/abc/enrollments/1").status_code == 422
    assert sqlite_api.call("GET", "/enrollments/99999999999999999999999").status_code == 422
    assert sqlite_api.call("GET", "/enrollments/0").status_code == 422
    too_big = sqlite_api.client.put(
        "/v1/accounts/99999999999999999999999/sequences/s", json={"name": "S"},
        headers={"Authorization": f"Bearer {sqlite_api.token}"},
    )  # fmt: skip
    assert too_big.status_code == 422
    assert sqlite_api.call("POST", "/adapters/hubspot", {}).status_code == 404
    assert sqlite_api.client.get("/nothing-here").status_code == 404
    assert sqlite_api.call("DELETE", "/events").status_code == 405


def _fuzz_values(rng: random.Random, depth: int = 0) -> object:
    choices: list[object] = [
        None, True, 0, -1, 2**70, 1.5e308, "", "x" * rng.randint(0, 600), "é\u0000\ud7ff",
        "2026-13-45T99:99", "2026-11-01T09:00:00", "2026-11-01T09:00:00Z", "a@b", "sent",
        "replied", "seq-1", "a@example.com", "9" * 25,
    ]  # fmt: skip
    if depth < 2:
        choices += [
            [_fuzz_values(rng, depth + 1) for _ in range(rng.randint(0, 3))],
            {k: _fuzz_values(rng, depth + 1) for k in rng.sample(_KEYS, rng.randint(0, 4))},
        ]
    return rng.choice(choices)


_KEYS = ["email", "kind", "sequence", "occurred_at", "subject", "enrollment_id", "name",
         "disable_sync", "project_id", "contacts", "events", "first_name", "linkedin_url",
         "event_type", "campaign_id", "lead_email", "to_email", "timestamp", "lead"]  # fmt: skip
_ROUTES = [("PUT", "/sequences/seq-1"), ("POST", "/sequences/seq-1/contacts"),
           ("POST", "/sequences/seq-1/contacts/batch"), ("POST", "/events"),
           ("POST", "/events/batch"), ("POST", "/adapters/instantly"),
           ("POST", "/adapters/smartlead")]  # fmt: skip


def test_no_body_gets_a_500(sqlite_api: Api) -> None:
    """300 random bodies on every route (seeded): each answered below 500."""
    assert sqlite_api.put_sequence("seq-1").status_code == 201
    assert (
        sqlite_api.call("POST", "/sequences/seq-1/contacts", {"email": "a@example.com"}).status_code
        == 201
    )
    rng = random.Random(15)
    for attempt in range(300):
        method, path = _ROUTES[attempt % len(_ROUTES)]
        body = {k: _fuzz_values(rng) for k in rng.sample(_KEYS, rng.randint(0, 6))}
        if rng.random() < 0.2:
            body = {"events": [body]} if "events" in path else {"contacts": [body]}
        raw = json.dumps(body).encode()
        answer = sqlite_api.call(method, path, raw=raw)
        assert answer.status_code < 500, (method, path, raw[:300], answer.text)


def test_headers_that_are_nonsense_get_a_401_not_a_500(sqlite_api: Api) -> None:
    for headers in (
        {"webhook-id": "x", "webhook-timestamp": "nan", "webhook-signature": "v1,@@"},
        {"webhook-id": "x", "webhook-timestamp": "1" * 40, "webhook-signature": "v1"},
        {"webhook-id": "", "webhook-timestamp": "", "webhook-signature": ""},
        {"Authorization": "Bearer " + "é" * 10},
        {"Authorization": "Bearer"},
    ):
        answer = sqlite_api.client.post(
            f"{sqlite_api.root}/events",
            content=b"{}",
            headers={k: v.encode() if isinstance(v, str) else v for k, v in headers.items()},  # type: ignore[misc]
        )
        assert answer.status_code == 401, (headers, answer.text)


def test_a_request_whose_headers_never_end_is_cut_off_at_the_cap(sqlite_api: Api) -> None:
    # httptools keeps every header however long; the server must not buffer megabytes of them.
    host, port = sqlite_api.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(b"POST /v1/accounts/1/events HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(OSError):  # the server may close while we still send
            for n in range(1_000):
                conn.sendall(b"X-Pad-%d: %s\r\n" % (n, b"a" * 1_000))
        try:
            answer = conn.recv(200)
        except ConnectionResetError:  # closed with our bytes unread: cut off too
            answer = b""
    assert answer.startswith(b"HTTP/1.1 400 ") or answer == b""


def test_an_idempotency_key_too_long_is_refused(sqlite_api: Api) -> None:
    answer = (
        sqlite_api.put_sequence("s")
        if False
        else sqlite_api.call(
            "PUT", "/sequences/s", {"name": "S"}, headers={"Idempotency-Key": "k" * 300}
        )
    )
    assert answer.status_code == 422


def test_the_openapi_document_lists_every_route(sqlite_api: Api) -> None:
    document = httpx.get(f"{sqlite_api.base_url}/openapi.json").json()
    paths = set(document["paths"])
    base = "/v1/accounts/{account}"
    assert {
        f"{base}/sequences/{{ref}}", f"{base}/sequences/{{ref}}/contacts",
        f"{base}/sequences/{{ref}}/contacts/batch", f"{base}/events", f"{base}/events/batch",
        f"{base}/adapters/{{platform}}", f"{base}/enrollments/{{enrollment_id}}",
        f"{base}/sequences/{{ref}}/contacts/{{email}}",
    } <= paths  # fmt: skip
    schemas = document["components"]["schemas"]
    assert {"SequenceIn", "ContactIn", "EventIn", "EventBatch", "ActivityKind"} <= set(schemas)
    body = document["paths"][f"{base}/events"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EventIn"}


def test_a_flood_of_bad_requests_is_recorded_once_a_second_not_once_each(sqlite_api: Api) -> None:
    import time

    from sqlmodel import func, select

    from sync_engine.ingest.models import IngestDelivery

    started = time.monotonic()
    statuses = [
        sqlite_api.call("PUT", "/sequences/s", {"name": "S"}, token="cwk_bad").status_code
        for _ in range(50)
    ]
    seconds = time.monotonic() - started
    burst = IngestConfig().auth_failures
    assert statuses == [401] * burst + [429] * (50 - burst)  # then the address is held off
    with sqlite_api.runtime.db.read() as session:
        recorded = session.exec(select(func.count()).select_from(IngestDelivery)).one()
    assert 1 <= recorded <= int(seconds) + 1 < burst  # one per second of the loop, not one each


@pytest.fixture
def guarded_api(sqlite_url: str, sim_server: SimulatorServer, sim: SimulatorState) -> Iterator[Api]:
    """The API allowing 3 failed authentications per address, then a lockout of a second."""
    yield from start_api(
        sqlite_url, sim_server, IngestConfig(auth_failures=3, auth_lockout_seconds=1),
    )  # fmt: skip


def test_an_address_whose_authentications_keep_failing_gets_429_without_a_store_lookup(
    guarded_api: Api,
) -> None:
    import time

    import sqlalchemy as sa

    api = guarded_api
    assert all(api.put_sequence(f"ok{i}").status_code == 201 for i in range(10))  # not counted
    wrong = ["cwk_guess1", "cwk_guess2", "cwk_guess3"]
    assert [api.put_sequence("s", token=token).status_code for token in wrong] == [401] * 3
    assert api.call("GET", "/enrollments/1", token="cwk_guess4").status_code == 429

    statements: list[str] = []
    sa.event.listen(api.runtime.db.engine, "before_cursor_execute",
                    lambda *args: statements.append(args[2]))  # fmt: skip
    blocked = api.put_sequence("s", token="cwk_guess5")
    held_off = api.put_sequence("s")  # the right token from that address waits its turn too
    anonymous = api.client.post(f"{api.root}/events", json={"kind": "opened"})
    assert [blocked.status_code, held_off.status_code, anonymous.status_code] == [429] * 3
    assert blocked.headers["retry-after"] == "1"
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert statements == []  # refused before the store is asked anything

    time.sleep(1.1)  # the lockout is over: a new allowance
    api.clock.now += timedelta(seconds=1.1)
    assert api.put_sequence("s").status_code == 201
    assert [api.put_sequence("s", token=f"cwk_again{i}").status_code for i in range(4)] == [
        401, 401, 401, 429,
    ]  # fmt: skip

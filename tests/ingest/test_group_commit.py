"""Group commit: deliveries waiting together share one transaction and one commit, each is
answered after that commit, a refused one leaves the others alone, and a group the store
refuses is done again one delivery at a time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import func, select
from starlette.requests import Request

from sync_engine.ingest.delivery import Delivery, IngestApp, IngestConfig, Refused, Result
from sync_engine.ingest.grouped import GroupCommit
from sync_engine.models import Activity
from tests.ingest.conftest import Api


class Refusal(Exception):
    pass


class Store:
    """A stand-in transaction: what was written in it, kept only when it commits."""

    def __init__(self) -> None:
        self.committed: list[list[str]] = []
        self.rolled_back = 0
        self.gate = threading.Event()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        written: list[str] = []
        try:
            yield written
        except Exception:
            self.rolled_back += 1
            raise
        self.committed.append(written)


def _writes(name: str, gate: threading.Event | None = None) -> Any:
    def in_group(written: list[str], shared: dict[Any, Any]) -> str:
        if gate is not None:
            gate.wait(5)  # holds the writer until the other deliveries are queued
        written.append(name)
        return f"{name} done"

    return in_group


def _refuses(written: list[str], shared: dict[Any, Any]) -> str:
    raise Refusal("not found")


def _breaks(written: list[str], shared: dict[Any, Any]) -> str:
    written.append("half")
    raise RuntimeError("unique key taken by a concurrent transaction")


async def _submit_while_held(group: GroupCommit, store: Store, jobs: list[Any]) -> list[Any]:
    """Submit a first delivery that holds the writer, then ``jobs``, then let it go."""
    first = asyncio.ensure_future(group.submit(_writes("first", store.gate), lambda: "first"))
    await asyncio.sleep(0.05)
    rest = [asyncio.ensure_future(group.submit(in_group, alone)) for in_group, alone in jobs]
    await asyncio.sleep(0.05)
    store.gate.set()
    return await asyncio.gather(first, *rest, return_exceptions=True)


def test_deliveries_waiting_together_commit_once_and_a_refusal_stays_its_own() -> None:
    store = Store()
    group = GroupCommit(store.transaction, refusal=Refusal)  # type: ignore[arg-type]
    try:
        jobs = [(_writes("a"), lambda: "alone"), (_refuses, lambda: "alone"),
                (_writes("b"), lambda: "alone")]  # fmt: skip
        answers = asyncio.run(_submit_while_held(group, store, jobs))
    finally:
        group.close()
    assert answers[0] == "first done"
    assert answers[1] == "a done" and answers[3] == "b done"
    assert isinstance(answers[2], Refusal)
    # the first alone, then the three that waited: one transaction, one commit
    assert store.committed == [["first"], ["a", "b"]]
    assert (group.groups, group.deliveries, group.fallbacks) == (2, 4, 0)


def test_a_group_the_store_refuses_is_rolled_back_and_done_one_by_one() -> None:
    store = Store()
    group = GroupCommit(store.transaction, refusal=Refusal)  # type: ignore[arg-type]
    done_alone: list[str] = []

    def alone(name: str) -> Any:
        def run() -> str:
            done_alone.append(name)
            if name == "broken":
                raise Refusal("409 conflict")
            return f"{name} alone"

        return run

    try:
        jobs = [(_writes("a"), alone("a")), (_breaks, alone("broken")), (_writes("b"), alone("b"))]
        answers = asyncio.run(_submit_while_held(group, store, jobs))
    finally:
        group.close()
    assert answers[1:3] == ["a alone", answers[2]] and isinstance(answers[2], Refusal)
    assert answers[3] == "b alone"
    assert store.committed == [["first"]] and store.rolled_back == 1
    assert sorted(done_alone) == ["a", "b", "broken"]
    assert group.fallbacks == 1


def test_what_a_group_leaves_to_write_together_is_written_before_its_commit() -> None:
    store = Store()
    finished: list[list[str]] = []

    def finish(written: list[str], shared: dict[Any, Any]) -> None:
        finished.append(list(written))
        written.append(f"records of {sorted(shared.get('names', []))}")

    def names(name: str) -> Any:
        def in_group(written: list[str], shared: dict[Any, Any]) -> str:
            shared.setdefault("names", []).append(name)
            return _writes(name)(written, shared)

        return in_group

    group = GroupCommit(store.transaction, refusal=Refusal, finish=finish)  # type: ignore[arg-type]
    try:
        jobs = [(names("a"), lambda: "alone"), (names("b"), lambda: "alone")]
        asyncio.run(_submit_while_held(group, store, jobs))
    finally:
        group.close()
    assert store.committed[-1] == ["a", "b", "records of ['a', 'b']"]
    assert finished[-1] == ["a", "b"]


def test_a_group_whose_writing_together_fails_is_done_one_by_one() -> None:
    store = Store()

    def finish(written: list[str], shared: dict[Any, Any]) -> None:
        raise RuntimeError("a unique key taken")

    group = GroupCommit(store.transaction, refusal=Refusal, finish=finish)  # type: ignore[arg-type]
    try:
        jobs = [(_writes("a"), lambda: "a alone"), (_writes("b"), lambda: "b alone")]
        answers = asyncio.run(_submit_while_held(group, store, jobs))
    finally:
        group.close()
    assert answers == ["first", "a alone", "b alone"]
    assert store.committed == [] and group.fallbacks == 2


def test_close_answers_what_was_handed_in() -> None:
    store = Store()
    group = GroupCommit(store.transaction, refusal=Refusal, writers=2)  # type: ignore[arg-type]

    async def send() -> list[Any]:
        return await asyncio.gather(
            *(group.submit(_writes(str(n)), lambda: "alone") for n in range(10))
        )

    answers = asyncio.run(send())
    group.close()
    assert answers == [f"{n} done" for n in range(10)]
    assert sorted(name for written in store.committed for name in written) == sorted(
        str(n) for n in range(10)
    )


EVENT = {"kind": "opened", "sequence": "seq-1", "email": "maya@example.com"}


def test_concurrent_events_through_the_api_each_answered_as_alone(api: Api) -> None:
    """40 events at once, some unknown, some the same delivery sent several times: every
    accepted one recorded once, every copy answered the same, the unknown ones 404."""
    assert api.put_sequence("seq-1").status_code == 201
    assert api.call("POST", "/sequences/seq-1/contacts", {"email": "maya@example.com"}).is_success
    sends: list[tuple[dict[str, Any], str]] = []
    for n in range(10):
        sends += [(EVENT, f"same-{n}")] * 3
        sends.append(({**EVENT, "email": f"nobody{n}@example.com"}, f"unknown-{n}"))
    answers: list[tuple[str, int, Any]] = []
    lock = threading.Lock()

    def send(body: dict[str, Any], key: str) -> None:
        answer = api.call("POST", "/events", body, headers={"Idempotency-Key": key})
        with lock:
            answers.append((key, answer.status_code, answer.json()))

    threads = [threading.Thread(target=send, args=pair) for pair in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    by_key: dict[str, set[str]] = {}
    for key, status, body in answers:
        by_key.setdefault(key, set()).add(f"{status} {body}")
        assert status == (404 if key.startswith("unknown") else 201)
    assert all(len(seen) == 1 for key, seen in by_key.items() if key.startswith("same"))
    with api.runtime.db.read() as session:
        assert session.exec(select(func.count()).select_from(Activity)).one() == 10


def test_the_event_routes_answer_the_same_past_fastapi_as_through_it(sqlite_api: Api) -> None:
    """``/v1/accounts/1/events`` is served by EventRoutesFirst, ``/v1/accounts/01/events`` (the
    same account to FastAPI) by FastAPI's route: the same answers, refusals included."""
    api = sqlite_api
    assert api.put_sequence("seq-1").status_code == 201
    assert api.call("POST", "/sequences/seq-1/contacts", {"email": "maya@example.com"}).is_success
    headers = {"Authorization": f"Bearer {api.token}"}
    fast, routed = f"/v1/accounts/{api.account_id}", f"/v1/accounts/0{api.account_id}"
    cases: list[tuple[str, Any]] = [
        ("/events", EVENT),
        ("/events", {**EVENT, "email": "nobody@example.com"}),
        ("/events", {**EVENT, "kind": "teleported"}),
        ("/events/batch", {"events": [EVENT, {"kind": "sent"}]}),
        ("/events/batch", {"events": []}),
    ]
    for path, body in cases:
        one = api.client.post(fast + path, json=body, headers=headers)
        other = api.client.post(routed + path, json=body, headers=headers)
        assert one.status_code == other.status_code, (path, body, one.text, other.text)
        if one.is_success:
            assert one.json().keys() == other.json().keys()
        else:
            assert one.json() == other.json()
    unknown = api.client.post(fast + "/events", json=EVENT, headers={"Authorization": "Bearer x"})
    assert unknown.status_code == 401
    too_big = api.client.post(
        "/v1/accounts/9223372036854775808/events", json=EVENT, headers=headers
    )
    assert too_big.status_code == 422 and "account" in too_big.json()["error"]["message"]


def test_a_retry_is_answered_as_before_even_when_its_work_would_now_be_refused(api: Api) -> None:
    """In a group the key is not looked up before the work: a retry whose work is refused now
    (its event is in the future of a clock set back) still gets the stored 201."""
    assert api.put_sequence("seq-1").status_code == 201
    assert api.call("POST", "/sequences/seq-1/contacts", {"email": "maya@example.com"}).is_success
    body = {**EVENT, "occurred_at": api.clock().isoformat()}
    first = api.call("POST", "/events", body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    api.clock.now -= timedelta(hours=1)
    again = api.call("POST", "/events", body, headers={"Idempotency-Key": "k1"})
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    fresh = api.call("POST", "/events", body, headers={"Idempotency-Key": "k2"})
    assert fresh.status_code == 422 and "future" in fresh.json()["error"]["message"]
    with api.runtime.db.read() as session:
        assert session.exec(select(func.count()).select_from(Activity)).one() == 1


def test_a_failed_authentication_done_again_after_its_group_failed_is_counted_once(
    sqlite_api: Api,
) -> None:
    """A group the store refuses is done again delivery by delivery, refused ones included: a
    wrong token is counted against its address when it is answered (once), not in a pass of
    its group (a rolled-back count would be lost, a count per pass would halve the allowance)."""
    app = IngestApp(sqlite_api.runtime, IngestConfig(auth_failures=2))
    scope = {
        "type": "http", "method": "POST", "path": "/", "query_string": b"",
        "headers": [(b"authorization", b"Bearer cwk_wrong")], "client": ("10.0.0.9", 40000),
    }  # fmt: skip
    delivery = Delivery(
        request=Request(scope), account_id=sqlite_api.account_id, route="events", body=b"{}",
        parse=lambda payload: payload, work=lambda session, caller, payload: Result(201, {}),
    )  # fmt: skip
    try:
        with sqlite_api.runtime.db.write() as session:
            for shared in ({}, None):  # in its group, then alone after the group failed
                with pytest.raises(Refused) as refused:
                    app.steps(session, delivery, shared)
                assert refused.value.status == 401
                assert refused.value.failed_from == "10.0.0.9"
        assert _failures(sqlite_api, "ingest:10.0.0.9") is None  # nothing counted in a pass
    finally:
        app.close()
    answer = sqlite_api.call("POST", "/events", EVENT, token="cwk_wrong")
    assert answer.status_code == 401
    assert _failures(sqlite_api, "ingest:127.0.0.1") == 1  # the grouped route, counted once


def _failures(api: Api, subject: str) -> int | None:
    from sync_engine.models import LoginFailure

    with api.runtime.db.read() as session:
        row = session.get(LoginFailure, subject)
        return row.failures if row else None

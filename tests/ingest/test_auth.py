"""Who may deliver: bearer tokens of the account, or the account's Standard Webhooks signature.
Every refusal is the same 401, recorded with its real reason for staff."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import select

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.ingest import credentials
from sync_engine.ingest.app import IngestConfig
from sync_engine.ingest.models import IngestDelivery, IngestToken
from sync_engine.models import AuditEntry
from sync_engine.services import accounts
from sync_engine.signing import new_secret
from tests.ingest.conftest import Api, start_api

UNAUTHORIZED = {"error": {"code": "unauthorized", "message": "missing or invalid credentials"}}


def _other_account_token(api: Api) -> str:
    with api.runtime.db.write() as session:
        other = accounts.create_account(session=session, name="Other firm", actor="test")
        assert other.id is not None
        return credentials.create_token(
            session=session, account_id=other.id, name="other", actor="test"
        ).token


def _refusals(api: Api) -> list[str]:
    with api.runtime.db.read() as session:
        rows = session.exec(
            select(IngestDelivery).where(IngestDelivery.outcome == "rejected")
        ).all()
    return [row.reason or "" for row in rows]


def test_a_token_of_the_account_is_accepted_and_its_last_use_recorded(api: Api) -> None:
    assert api.put_sequence().status_code == 201
    with api.runtime.db.read() as session:
        row = session.get(IngestToken, api.token_id)
    assert row is not None and row.last_used_at == api.clock()


def test_every_wrong_credential_gets_the_same_401_and_staff_see_why(api: Api) -> None:
    other = _other_account_token(api)
    body = {"name": "S"}
    answers = [
        api.client.put(f"{api.root}/sequences/s", json=body),
        api.call("PUT", "/sequences/s", body, token="cwk_not-a-token"),
        api.call("PUT", "/sequences/s", body, token=other),
        api.call("PUT", "/sequences/s", body, headers={"Authorization": "Basic abc"}),
        api.signed("/sequences/s", body, msg_id="m1", secret=new_secret(), method="PUT"),
    ]
    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert answer.json() == UNAUTHORIZED
        assert answer.headers["www-authenticate"] == "Bearer"
    reasons = _refusals(api)
    assert any("unknown token" in r for r in reasons)
    assert any("another account" in r for r in reasons)
    assert any("no credentials" in r for r in reasons)
    assert any("no webhook-signature matches" in r for r in reasons)
    assert all(api.token not in r and other not in r for r in reasons)


@pytest.fixture
def quick_revocation_api(
    database_url: str, sim_server: SimulatorServer, sim: SimulatorState
) -> Iterator[Api]:
    """The API keeping a token read from the store for 1 s."""
    yield from start_api(database_url, sim_server, IngestConfig(token_cache_seconds=1.0))


def test_a_revoked_token_is_refused_within_the_token_cache_time_and_the_revocation_audited(
    quick_revocation_api: Api,
) -> None:
    api = quick_revocation_api
    assert api.put_sequence().status_code == 201  # the token is now in the process's cache
    with api.runtime.db.write() as session:
        credentials.revoke_token(
            session=session, account_id=api.account_id, token_id=api.token_id, actor="admin",
        )  # fmt: skip
    time.sleep(1.2)  # the stated bound (token_cache_seconds), and a little more
    answer = api.put_sequence()
    assert answer.status_code == 401 and answer.json() == UNAUTHORIZED
    with api.runtime.db.read() as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.entity == "ingest_token")).all()
    assert [(e.field, e.actor) for e in entries] == [("created", "test"), ("revoked", "admin")]
    assert all(api.token not in (e.new_value or "") for e in entries)


def test_a_busy_token_is_read_from_the_store_once_per_cache_time(api: Api) -> None:
    assert api.put_sequence("s0").status_code == 201
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(api.runtime.db.engine, "before_cursor_execute", listen)
    try:
        assert api.put_sequence("s1").status_code == 201  # within the 5 s of the first
    finally:
        sa.event.remove(api.runtime.db.engine, "before_cursor_execute", listen)
    assert statements and not any("token_hash" in sql for sql in statements), statements


def test_tokens_are_stored_as_their_hash_only(api: Api) -> None:
    with api.runtime.db.read() as session:
        row = session.get(IngestToken, api.token_id)
    assert row is not None
    assert row.token_hash == credentials.token_hash(api.token) != api.token
    assert api.token.startswith(row.hint) and len(row.hint) < 10


def test_a_signed_delivery_is_accepted(api: Api) -> None:
    answer = api.signed("/sequences/s1", {"name": "Signed"}, msg_id="msg_a", method="PUT")
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_signature_outside_five_minutes_is_a_replay_and_refused(api: Api, age: int) -> None:
    timestamp = int(api.clock().timestamp()) - age
    answer = api.signed(
        "/sequences/s1", {"name": "Old"}, msg_id="msg_old", timestamp=timestamp, method="PUT"
    )
    assert answer.status_code == 401 and answer.json() == UNAUTHORIZED
    assert any("tolerance" in reason for reason in _refusals(api))


def test_a_signature_is_refused_once_the_secret_is_replaced(api: Api) -> None:
    with api.runtime.db.write() as session:
        fresh = credentials.set_signing_secret(
            session=session, account_id=api.account_id, box=api.runtime.box, actor="admin",
        )  # fmt: skip
    assert (
        api.signed("/sequences/s1", {"name": "x"}, msg_id="m_old", method="PUT").status_code == 401
    )
    assert (
        api.signed(
            "/sequences/s1", {"name": "x"}, msg_id="m_new", secret=fresh, method="PUT"
        ).status_code
        == 201
    )


def test_a_body_altered_after_signing_is_refused(api: Api) -> None:
    from sync_engine.signing import sign

    ts = int(api.clock().timestamp())
    signature = sign(api.secret, "m1", ts, b'{"name": "A"}')
    answer = api.client.put(
        f"{api.root}/sequences/s1",
        content=b'{"name": "B"}',
        headers={"webhook-id": "m1", "webhook-timestamp": str(ts), "webhook-signature": signature},
    )
    assert answer.status_code == 401


def test_reads_need_credentials_too(api: Api) -> None:
    assert api.client.get(f"{api.root}/enrollments/1").status_code == 401
    assert api.call("GET", "/enrollments/1").status_code == 404


def test_a_delivery_for_an_account_that_does_not_exist_is_a_401_not_a_404(api: Api) -> None:
    answer = api.client.put(
        "/v1/accounts/999999/sequences/s", json={"name": "x"},
        headers={"Authorization": f"Bearer {api.token}"},
    )  # fmt: skip
    assert answer.status_code == 401 and answer.json() == UNAUTHORIZED

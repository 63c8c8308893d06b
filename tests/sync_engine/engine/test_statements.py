"""Prepared statements run on the DBAPI cursor give what SQLAlchemy's own execution gives, on both
backends: the same typed row values (booleans, aware datetimes), an INSERT's column defaults and
literal values, and a clear error for a missing parameter; their transactions commit, roll back
and, on SQLite, hold the write lock from their start."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import select

from sync_engine import db as db_module
from sync_engine.engine.queue import claim_due
from sync_engine.engine.statements import Prepared, transaction
from sync_engine.engine.work import (
    _WORK_QUERY,
    CONTACT,
    NEW_ATTEMPT,
    RENEW,
    STORE_STEPS,
    SYNC_ATTEMPT,
    WORK,
    open_work,
)
from sync_engine.models import Enrollment, EnrollmentStatus, SyncAttempt
from sync_engine.runtime import Runtime
from tests import postgres
from tests.factories import (
    FakeClock,
    enroll,
    make_connected_account,
    make_runtime,
    make_sequence,
)


def _enrollment(rt: Runtime) -> Enrollment:
    account_id = make_connected_account(rt)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "ada@example.com")
    with rt.db.read() as session:
        enrollment = session.get(Enrollment, enrollment_id)
    assert enrollment is not None
    return enrollment


def test_a_prepared_select_reads_the_same_typed_values_as_sqlalchemy(runtime: Runtime) -> None:
    enrollment = _enrollment(runtime)
    started = datetime(2026, 11, 2, 9, 30, 15, 250000, tzinfo=UTC)
    with runtime.db.transaction() as connection:
        connection.execute(
            sa.update(CONTACT)
            .where(CONTACT.c.id == enrollment.contact_id)
            .values(person_creation_started_at=started, email_attached=True)
        )
    params = {"enrollment_id": enrollment.id}
    with runtime.db.transaction() as connection:
        expected = connection.execute(_WORK_QUERY, params).one()
        (row,) = WORK.run(connection, params)
    assert tuple(row) == tuple(expected)
    assert [type(value) for value in row] == [type(value) for value in expected]
    assert row.person_creation_started_at == started  # aware, as the type decorator returns it
    assert row.email_attached is True and row.position_attached is False
    assert row._fields == tuple(expected._fields)


def test_an_insert_gets_its_column_defaults_and_literal_values(runtime: Runtime) -> None:
    enrollment = _enrollment(runtime)
    now = runtime.clock()
    params = {"attempt_enrollment": enrollment.id, "attempt_account": enrollment.account_id,
              "attempt_now": now}  # fmt: skip
    with runtime.db.transaction() as connection:
        ((attempt_id,),) = NEW_ATTEMPT.run(connection, params)
    with runtime.db.transaction() as connection:
        stored = connection.execute(
            sa.select(SYNC_ATTEMPT).where(SYNC_ATTEMPT.c.id == attempt_id)
        ).one()
    assert (stored.calls, stored.outcome, stored.started_at) == (0, "started", now)


def test_a_statement_runs_the_same_on_an_orm_session(runtime: Runtime) -> None:
    enrollment = _enrollment(runtime)
    params = {"renewed_id": enrollment.id, "renewed_token": "nobody", "renewed_until":
              runtime.clock()}  # fmt: skip
    with runtime.db.write() as session:
        assert RENEW.run(session, params) == []
    with runtime.db.transaction() as connection:
        assert RENEW.run(connection, params) == []


def test_a_missing_parameter_is_named() -> None:
    statement = Prepared(sa.select(CONTACT.c.id).where(CONTACT.c.id == sa.bindparam("wanted")))
    engine = sa.create_engine("sqlite://")
    with engine.begin() as connection, pytest.raises(KeyError, match="wanted"):
        statement.run(connection, {})
    engine.dispose()


def _steps(rt: Runtime, contact_id: int) -> bool:
    with rt.db.read() as session:
        return session.execute(
            sa.select(CONTACT.c.email_attached).where(CONTACT.c.id == contact_id)
        ).scalar_one()


def test_a_transaction_commits_or_rolls_back_as_a_whole(runtime: Runtime) -> None:
    enrollment = _enrollment(runtime)
    steps = {"steps_contact_id": enrollment.contact_id, "steps_email": True,
             "steps_position": False, "steps_linkedin": False}  # fmt: skip
    with pytest.raises(RuntimeError), transaction(runtime.db) as tx:
        STORE_STEPS.run(tx, steps)
        raise RuntimeError("the step after failed")
    assert _steps(runtime, enrollment.contact_id) is False
    with transaction(runtime.db) as tx:
        STORE_STEPS.run(tx, steps)
    assert _steps(runtime, enrollment.contact_id) is True


def test_a_transaction_holds_sqlites_write_lock_from_its_start(sqlite_url: str) -> None:
    rt = make_runtime(sqlite_url)
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0.1)
    with transaction(rt.db), pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")  # free again once it committed
    other.rollback()
    other.close()
    rt.close()


class _BrokenConnection:
    """A DBAPI connection that cannot even roll back (the server went away)."""

    closed = False

    def rollback(self) -> None:
        raise ConnectionError("server closed the connection unexpectedly")

    def close(self) -> None:
        self.closed = True


def test_a_failed_rollback_does_not_hide_the_error_that_caused_it() -> None:
    connection = _BrokenConnection()
    engine = SimpleNamespace(raw_connection=lambda: connection, dialect=None)
    store: Any = SimpleNamespace(engine=engine, is_sqlite=False)
    with pytest.raises(ValueError, match="the real problem"), transaction(store):
        raise ValueError("the real problem")
    assert connection.closed


@pytest.fixture
def postgres_url(_postgres_template: tuple[str, str]) -> Iterator[tuple[str, str]]:
    """(admin URL, URL of a fresh migrated PostgreSQL store)."""
    admin_url, template = _postgres_template
    with postgres.fresh_database(admin_url, "cwsync_t", template=template) as url:
        yield admin_url, url


def _backend_pid(rt: Runtime) -> int:
    with transaction(rt.db) as tx:
        cursor = tx.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
def test_a_pooled_connection_is_pinged_only_after_sitting_idle(
    postgres_url: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = make_runtime(postgres_url[1])
    pings: list[object] = []
    real_ping = rt.db.engine.dialect.do_ping

    def counted_ping(conn: object) -> bool:
        pings.append(conn)
        return real_ping(conn)  # type: ignore[arg-type]

    monkeypatch.setattr(rt.db.engine.dialect, "do_ping", counted_ping)
    first = _backend_pid(rt)
    pinged = len(pings)  # a new connection's first checkout
    for _ in range(5):
        assert _backend_pid(rt) == first
    assert len(pings) == pinged  # just used: no round trip before the statement
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert _backend_pid(rt) == first
    assert len(pings) == pinged + 1
    rt.close()


@pytest.mark.postgres
def test_a_connection_the_server_closed_is_replaced(
    postgres_url: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    admin_url, _ = postgres_url
    rt = make_runtime(postgres_url[1])
    first = _backend_pid(rt)
    postgres.admin_sql(admin_url, f"SELECT pg_terminate_backend({first})")
    # Idle long enough: the checkout's ping finds it closed and connects anew.
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    second = _backend_pid(rt)
    assert second != first
    # Used moments ago: the statement fails once, and the connection is not pooled again.
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 60.0)
    postgres.admin_sql(admin_url, f"SELECT pg_terminate_backend({second})")
    with pytest.raises(psycopg.OperationalError):
        _backend_pid(rt)
    assert _backend_pid(rt) not in (first, second)
    rt.close()


def test_opening_a_claim_starts_its_attempt_the_same_way_on_each_backend(
    runtime: Runtime, clock: FakeClock
) -> None:
    enrollment = _enrollment(runtime)
    with runtime.db.write() as session:
        (claim,) = claim_due(session=session, token="w", now=clock(), lease_seconds=60, limit=5)
    assert _status(runtime, enrollment) == ("queued", 0)  # claimed, not started
    clock.advance(5)
    work = open_work(claim, db=runtime.db, clock=clock)
    assert work is not None and work.needs_sync and work.attempt == 1
    assert (work.email, work.sequence_name, work.link_by_linkedin) == (
        "ada@example.com",
        "VP Eng",
        False,
    )
    assert _status(runtime, enrollment) == ("syncing", 1)
    with runtime.db.read() as session:
        (attempt,) = session.exec(select(SyncAttempt)).all()
        row = session.get(Enrollment, enrollment.id)
    assert (attempt.id, attempt.outcome, attempt.started_at) == (
        work.attempt_row_id,
        "started",
        clock(),
    )
    assert row is not None and row.lease_expires_at == clock() + timedelta(seconds=60)
    assert row.last_attempt_at == clock()
    # Another token's claim opens nothing; a synced enrollment (notes only) opens no attempt.
    assert open_work(replace(claim, token="other"), db=runtime.db, clock=clock) is None
    with runtime.db.write() as session:
        stored = session.get(Enrollment, enrollment.id)
        assert stored is not None
        stored.status = EnrollmentStatus.SYNCED
        session.add(stored)
    again = open_work(claim, db=runtime.db, clock=clock)
    assert again is not None and not again.needs_sync and again.attempt_row_id is None
    assert again.attempt == 1 and _status(runtime, enrollment) == ("synced", 1)


def _status(rt: Runtime, enrollment: Enrollment) -> tuple[str, int]:
    with rt.db.read() as session:
        row = session.get(Enrollment, enrollment.id)
    assert row is not None
    return row.status, row.attempts

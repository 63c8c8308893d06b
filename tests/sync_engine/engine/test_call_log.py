"""The API call log on both backends: a pass's calls written in one go, the newest kept up to the
retention, each account's latest successful call noted on its connection (SPEC B7)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from sync_engine.clockwork.client import CallRecord
from sync_engine.engine.call_log import write_calls
from sync_engine.models import ApiCall, ClockworkConnection
from sync_engine.runtime import Runtime
from tests.factories import make_connected_account


def test_calls_are_written_trimmed_to_retention_and_the_last_success_noted(
    runtime: Runtime,
) -> None:
    account_id = make_connected_account(runtime)
    start = runtime.clock()
    calls = [
        (account_id, CallRecord("GET", "/people_search", 200, 1.5, None, start)),
        (account_id, CallRecord("POST", "/people", 201, 2.5, None, start + timedelta(seconds=1))),
        (account_id, CallRecord("POST", "/people/{id}/notes", None, 9.0, "ReadTimeout: slow",
                                start + timedelta(seconds=2))),
    ]  # fmt: skip
    write_calls(runtime.db, calls[:1], retention=2)
    write_calls(runtime.db, calls[1:], retention=2)
    with runtime.db.read() as session:
        rows = session.exec(select(ApiCall).order_by(col(ApiCall.id))).all()
        connection = session.exec(
            select(ClockworkConnection).where(ClockworkConnection.account_id == account_id)
        ).one()
    assert [(r.method, r.path, r.status, r.latency_ms, r.error, r.at) for r in rows] == [
        ("POST", "/people", 201, 2.5, None, start + timedelta(seconds=1)),
        (
            "POST",
            "/people/{id}/notes",
            None,
            9.0,
            "ReadTimeout: slow",
            start + timedelta(seconds=2),
        ),
    ]
    assert connection.last_success_at == start + timedelta(seconds=1)

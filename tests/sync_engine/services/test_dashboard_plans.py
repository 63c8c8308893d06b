"""The Overview's, Sequences' and the contact search's counts read the enrollment indexes alone.

At a million enrollments, each row a count reads costs: the Overview's due-now count read every
queued row (~130-170 ms), the Exists-in-Clockwork count walked the whole flag index (~90 ms), a
contact search read each matching enrollment's row for its account (~270 ms for
``@contoso.com``). These tests ask SQLite how it runs each statement the views issue, on a
small store with the same schema (migration 0006_dashboard_speed), and find no enrollment row
read and no whole-index walk. ``bench/dashboard_queries.py`` and ``bench/dashboard_pages.py``
measure the times.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from sync_engine.models import Enrollment
from sync_engine.runtime import Runtime
from sync_engine.services.queries import contact_table, overview
from tests.factories import (
    FakeClock,
    enroll,
    make_connected_account,
    make_sequence,
)


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The plans asked for are SQLite's, so the shared ``runtime`` runs on SQLite alone here."""
    return sqlite_url


@pytest.fixture
def store(runtime: Runtime, clock: FakeClock) -> dict[str, int]:
    """Two accounts with a few enrollments in several states."""
    found = {}
    for name in ("Acme Talent", "Globex"):
        account_id = make_connected_account(runtime, name=name)
        sequence_id = make_sequence(runtime, account_id, "VP Engineering")
        ids = [enroll(runtime, sequence_id, f"p{i}@{name[:4].lower()}.com") for i in range(6)]
        with runtime.db.write() as session:
            for number, enrollment_id in enumerate(ids):
                enrollment = session.get(Enrollment, enrollment_id)
                assert enrollment is not None
                enrollment.status = ("queued", "retrying", "synced", "failed")[number % 4]
                enrollment.exists_in_clockwork = number % 2 == 0
                enrollment.next_attempt_at = clock() + timedelta(seconds=30 * (number - 2))
                session.add(enrollment)
        found[name] = account_id
        found[f"{name} sequence"] = sequence_id
    return found


def plans(runtime: Runtime, call: Callable[[Session], Any]) -> list[tuple[str, list[str]]]:
    """Each SELECT that ``call`` issues, with SQLite's plan for it (one line per step)."""
    issued: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        issued.append((statement, parameters))

    engine = runtime.db.engine
    sa.event.listen(engine, "before_cursor_execute", grab)
    try:
        with runtime.db.read() as session:
            call(session)
    finally:
        sa.event.remove(engine, "before_cursor_execute", grab)
    found = []
    with engine.connect() as connection:
        for statement, parameters in issued:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            found.append((statement, [str(row[-1]) for row in rows]))
    return found


ENROLLMENT = r"enrollment(?: AS \w+| \w+)?"


def enrollment_reads(found: list[tuple[str, list[str]]]) -> list[str]:
    """The steps that read enrollment rows, or walk a whole enrollment index."""
    bad = []
    for statement, steps in found:
        for step in steps:
            table = re.match(rf"(SCAN|SEARCH) {ENROLLMENT}\b", step)
            if table is None:
                continue
            if step.startswith("SCAN") or "COVERING INDEX" not in step:
                bad.append(f"{step}  <-  {' '.join(statement.split())[:160]}")
    return bad


def test_the_overview_counts_read_no_enrollment_row(
    runtime: Runtime, store: dict[str, int], clock: FakeClock
) -> None:
    account_id = store["Acme Talent"]
    found = plans(runtime, lambda session: overview.account_overview(session=session))
    found += plans(
        runtime,
        lambda session: overview.engine_health(session=session, now=clock(), account_id=account_id),
    )
    assert any("exists_in_clockwork" in statement for statement, _ in found)
    assert enrollment_reads(found) == []
    with runtime.db.read() as session:  # and they still count right
        acme = next(
            r for r in overview.account_overview(session=session) if r.name == "Acme Talent"
        )
        health = overview.engine_health(session=session, now=clock(), account_id=account_id)
    assert acme.counts == {"queued": 2, "retrying": 2, "synced": 1, "failed": 1}
    assert acme.exists_in_clockwork == 3
    assert (health.queued, health.due_now) == (4, 2)


def test_the_sequence_list_reads_no_enrollment_row(runtime: Runtime, store: dict[str, int]) -> None:
    account_id = store["Acme Talent"]
    found = plans(
        runtime, lambda session: overview.sequence_overview(session=session, account_id=account_id)
    )
    assert enrollment_reads(found) == []
    with runtime.db.read() as session:
        (row,) = overview.sequence_overview(session=session, account_id=account_id)
    assert (row.total, row.failed) == (6, 1)


def test_a_contact_search_is_counted_from_the_index(
    runtime: Runtime, store: dict[str, int]
) -> None:
    """The count: the matching contacts' enrollments in the account, from (contact, account).
    (A page's ids may instead walk the account's id index newest first, which SQLite picks when
    matches are many: the first page is then found early.)"""
    where = contact_table.EnrollmentFilter(account_id=store["Acme Talent"], search="@acme.com")
    with runtime.db.read() as session:
        if not contact_table.has_search_table(session):
            pytest.skip("this SQLite has no FTS5 trigram tokenizer")
    found = plans(
        runtime, lambda session: contact_table.count_enrollments(session=session, where=where)
    )
    assert any("contact_search" in statement for statement, _ in found), "the trigram table"
    assert enrollment_reads(found) == []
    with runtime.db.read() as session:
        assert contact_table.count_enrollments(session=session, where=where) == 6


def test_the_backfill_preview_finds_skipped_activity_through_its_state(
    runtime: Runtime, store: dict[str, int]
) -> None:
    """Not by walking the account's activities oldest first (to save the sort), which read every
    activity of the account to find the few skipped ones: 2.2 s at 1M on SQLite."""
    from sync_engine.services import activity_backfill

    account_id = store["Acme Talent"]
    found = plans(
        runtime,
        lambda session: activity_backfill.plan_backfill(
            session=session, account_id=account_id, limit=500
        ),
    )
    steps = [
        step for _, plan in found for step in plan if re.match(r"(SCAN|SEARCH) activity", step)
    ]
    assert steps, found
    assert all("ix_activity_account_occurred" not in step for step in steps), steps
    assert any("ix_activity_account_state" in step for step in steps), steps

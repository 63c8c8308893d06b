"""The dashboard's read-only queries (``services/queries/``) on both storage backends.

The engine's outcome columns are written directly here, as the engine would, so the queries are
tested on known data without running sync passes.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from clockwork_simulator import SimulatorState, mock_transport
from sync_engine import connections
from sync_engine.models import (
    Activity,
    ApiCall,
    EngineRun,
    Enrollment,
    EnrollmentStatus,
    Reason,
    SyncAttempt,
)
from sync_engine.runtime import Runtime
from sync_engine.services import accounts, projects
from sync_engine.services.errors import ConnectionRejectedError, NotFoundError
from sync_engine.services.queries import (
    contact_table,
    csv_export,
    history,
    logs,
    overview,
    previews,
    reason_texts,
)
from tests.factories import (
    FakeClock,
    enroll,
    make_account,
    make_connected_account,
    make_runtime,
    make_sequence,
    set_enrollment,
)


@pytest.fixture
def audit_data(runtime: Runtime, clock: FakeClock) -> dict[str, Any]:
    """A connected account with two sequences and enrollments in every interesting state."""
    account_id = make_connected_account(runtime, "Acme Talent")
    vpe = make_sequence(runtime, account_id, "VP Engineering")
    cfo = make_sequence(runtime, account_id, "CFO Search")
    ids = {
        "synced": enroll(
            runtime, vpe, "grace@northwind.com", first_name="Grace", last_name="Hopper"
        ),
        "flagged": enroll(
            runtime, vpe, "linus@contoso.com", first_name="Linus", last_name="Pauling"
        ),
        "failed": enroll(runtime, cfo, "ada@lovelace.com", first_name="Ada", last_name="Lovelace"),
        "retrying": enroll(runtime, cfo, "ken@wingtip.com", first_name="Ken", last_name="Thompson"),
        "queued": enroll(runtime, cfo, "bob_100%@wingtip.com", first_name="Bob", last_name="Evil"),
    }
    clock.advance(61.5)  # off the minute, as real sync times are
    set_enrollment(runtime, ids["synced"], status="synced", link="created", clockwork_person_id="p-1",
         synced_at=clock(), attempts=1, next_attempt_at=None)  # fmt: skip
    set_enrollment(runtime, ids["flagged"], status="synced", link="linked", exists_in_clockwork=True,
         clockwork_person_id="p-2", synced_at=clock(), attempts=1, next_attempt_at=None)  # fmt: skip
    set_enrollment(runtime, ids["failed"], status="failed", reason="validation_error", attempts=1,
         last_error="=HYPERLINK(\"http://evil\")", next_attempt_at=None)  # fmt: skip
    set_enrollment(runtime, ids["retrying"], status="retrying", reason="rate_limited", attempts=2,
         next_attempt_at=clock() + timedelta(seconds=30))  # fmt: skip
    return {"account_id": account_id, "vpe": vpe, "cfo": cfo, "ids": ids}


# --- overview -------------------------------------------------------------------------------


def test_account_overview_puts_accounts_needing_attention_first(
    runtime: Runtime, audit_data: dict[str, Any]
) -> None:
    quiet = make_account(runtime, "Aardvark Search")  # healthy, alphabetically first
    with runtime.db.read() as session:
        rows = overview.account_overview(session=session)
    assert [row.name for row in rows] == ["Acme Talent", "Aardvark Search"]
    acme = rows[0]
    assert acme.problems == ["1 failed", "1 retrying"]
    assert acme.exists_in_clockwork == 1
    assert acme.counts == {"synced": 2, "failed": 1, "retrying": 1, "queued": 1}
    assert rows[1].account_id == quiet and rows[1].connection == "never_connected"
    assert not rows[1].needs_attention


def test_account_overview_flags_rejected_credentials_and_paused_sync(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime)
    with runtime.db.write() as session:
        connections.mark_needs_attention(session=session, account_id=account_id, error="401")
        accounts.set_sync_paused(session=session, account_id=account_id, paused=True, actor="t")
    with runtime.db.read() as session:
        (row,) = overview.account_overview(session=session)
    assert row.problems == ["Credentials rejected", "Sync paused"]


def test_status_counts_lists_every_status(runtime: Runtime, audit_data: dict[str, Any]) -> None:
    with runtime.db.read() as session:
        counts = overview.status_counts(session=session, account_id=audit_data["account_id"])
    assert counts == {
        "awaiting_reply": 0, "queued": 1, "syncing": 0, "synced": 2, "retrying": 1, "failed": 1,
        "skipped": 0, "needs_review": 0,
    }  # fmt: skip


def test_reason_groups_count_failures_with_their_action(
    runtime: Runtime, audit_data: dict[str, Any]
) -> None:
    with runtime.db.read() as session:
        groups = overview.reason_groups(session=session, account_id=audit_data["account_id"])
    by_reason = {group.reason: group for group in groups}
    assert by_reason["validation_error"].count == 1
    assert by_reason["validation_error"].action == "Fix the contact, then Retry"
    assert by_reason["rate_limited"].status == "retrying"


def test_every_reason_code_has_plain_words_and_auth_says_reconnect() -> None:
    assert set(reason_texts.REASONS) == set(Reason)
    assert reason_texts.reason_info("auth_failed").action == "Reconnect Clockwork"
    assert reason_texts.reason_info(Reason.INVALID_EMAIL).action == "Fix the email"
    assert reason_texts.reason_message(None) is None


def test_a_reason_code_this_version_does_not_know_is_still_told_in_words() -> None:
    unknown = reason_texts.reason_info("quota_exceeded")
    assert (unknown.code, unknown.message, unknown.action) == (
        "quota_exceeded",
        "Quota exceeded",
        "Retry",
    )
    assert reason_texts.reason_info("").message == "No reason given"


def test_retrying_status_says_how_many_attempts_were_made() -> None:
    assert reason_texts.status_label("retrying", attempts=3) == "Retrying (after 3 attempts)"
    assert reason_texts.status_label("retrying", attempts=1) == "Retrying (after 1 attempt)"
    assert reason_texts.status_label("failed", attempts=3) == "Failed"


# --- the contact audit table ----------------------------------------------------------------


def _where(data: dict[str, Any], **filters: Any) -> contact_table.EnrollmentFilter:
    return contact_table.EnrollmentFilter(account_id=data["account_id"], **filters)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["queued", "retrying", "failed", "flagged", "synced"]),
        ({"statuses": ("synced",)}, ["flagged", "synced"]),
        ({"reasons": ("validation_error",)}, ["failed"]),
        ({"exists_in_clockwork": True}, ["flagged"]),
        ({"exists_in_clockwork": False, "statuses": ("synced",)}, ["synced"]),
        ({"search": "GRACE@"}, ["synced"]),
        ({"search": "ada@lovelace.com"}, ["failed"]),
        ({"search": "race@northwind"}, []),  # with an @, an email is matched from its start
        ({"search": "@wingtip"}, ["queued", "retrying"]),  # a domain: anywhere in the email
        ({"search": "lovelace"}, ["failed"]),
        ({"search": "ada love"}, ["failed"]),
        ({"search": "100%"}, ["queued"]),
        ({"search": "%"}, ["queued"]),
        ({"search": "_"}, ["queued"]),
    ],
)
def test_enrollment_filters_run_in_sql(
    runtime: Runtime, audit_data: dict[str, Any], filters: dict[str, Any], expected: list[str]
) -> None:
    names = {value: key for key, value in audit_data["ids"].items()}
    where = _where(audit_data, **filters)
    with runtime.db.read() as session:
        rows = contact_table.list_enrollments(session=session, where=where)
        total = contact_table.count_enrollments(session=session, where=where)
    assert [names[row.enrollment_id] for row in rows] == expected
    assert total == len(expected)


def test_enrollment_filter_by_sequence_and_paging(
    runtime: Runtime, audit_data: dict[str, Any]
) -> None:
    where = _where(audit_data, sequence_ids=(audit_data["cfo"],))
    with runtime.db.read() as session:
        first = contact_table.list_enrollments(session=session, where=where, limit=2, offset=0)
        second = contact_table.list_enrollments(session=session, where=where, limit=2, offset=2)
        total = contact_table.count_enrollments(session=session, where=where)
    assert total == 3
    assert len(first) == 2 and len(second) == 1
    assert {row.sequence for row in first + second} == {"CFO Search"}


@pytest.mark.parametrize("limit", [1, 2, 3, 50])
def test_every_page_from_either_end_is_the_same_slice_of_the_newest_first_order(
    runtime: Runtime, audit_data: dict[str, Any], limit: int
) -> None:
    # Pages past the middle are read from the oldest end when the total is given.
    where = _where(audit_data)
    with runtime.db.read() as session:
        everything = [
            r.enrollment_id for r in contact_table.list_enrollments(session=session, where=where)
        ]
        total = contact_table.count_enrollments(session=session, where=where)
        pages = [
            [r.enrollment_id for r in contact_table.list_enrollments(
                session=session, where=where, limit=limit, offset=offset, total=total)]
            for offset in range(0, total + limit, limit)
        ]  # fmt: skip
    assert everything == sorted(everything, reverse=True) and total == 5
    for number, page in enumerate(pages):
        assert page == everything[number * limit : (number + 1) * limit]


def test_search_follows_renamed_contacts_and_takes_quotes_literally(
    runtime: Runtime, audit_data: dict[str, Any]
) -> None:
    from sync_engine.models import Contact

    other = make_sequence(runtime, make_account(runtime, "Other"), "Elsewhere")
    enroll(runtime, other, "lovelace@other.com", first_name="Ada", last_name="Lovelace")
    with runtime.db.write() as session:
        ada = session.exec(select(Contact).where(Contact.email == "ada@lovelace.com")).one()
        ada.last_name = 'King "Countess"'
        session.add(ada)

    def found(term: str) -> list[int]:
        with runtime.db.read() as session:
            where = _where(audit_data, search=term)
            rows = contact_table.list_enrollments(session=session, where=where)
            assert contact_table.count_enrollments(session=session, where=where) == len(rows)
        return [row.enrollment_id for row in rows]

    failed = audit_data["ids"]["failed"]
    assert found("ada king") == [failed]
    assert found('"countess"') == [failed]
    assert found("lovelace") == [failed]  # still in the email; the other account's is not shown
    assert found("ada lovelace") == []  # the old name is gone from the search


def test_search_scans_on_a_sqlite_without_the_trigram_table(
    sqlite_url: str, sim_state: SimulatorState, clock: FakeClock
) -> None:
    # SQLite before 3.34 or built without FTS5: migration 0004 leaves the table out.
    import sqlite3

    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as raw:
        for trigger in ("insert", "update", "delete"):
            raw.execute(f"DROP TRIGGER contact_search_{trigger}")
        raw.execute("DROP TABLE contact_search")
    rt = make_runtime(sqlite_url, clock=clock, transport=mock_transport(sim_state))
    try:
        sequence_id = make_sequence(rt, make_connected_account(rt), "CFO Search")
        enrollment_id = enroll(rt, sequence_id, "ada@lovelace.com", first_name="Ada")
        with rt.db.read() as session:
            account_id = session.exec(select(Enrollment.account_id)).one()
            where = contact_table.EnrollmentFilter(account_id=account_id, search="lovelace")
            rows = contact_table.list_enrollments(session=session, where=where)
            assert contact_table.count_enrollments(session=session, where=where) == 1
    finally:
        rt.close()
    assert [row.enrollment_id for row in rows] == [enrollment_id]


def test_enrollment_rows_carry_the_clockwork_link_and_plain_reason(
    runtime: Runtime, audit_data: dict[str, Any]
) -> None:
    with runtime.db.read() as session:
        rows = {
            r.enrollment_id: r
            for r in contact_table.list_enrollments(session=session, where=_where(audit_data))
        }
    flagged = rows[audit_data["ids"]["flagged"]]
    assert flagged.person_url == "https://northwind.clockworkrecruiting.com/firm/people#id:p-2"
    assert flagged.link == "linked" and flagged.exists_in_clockwork
    failed = rows[audit_data["ids"]["failed"]]
    assert failed.reason_message == "Clockwork refused the contact's data"
    assert failed.person_url is None


def test_csv_export_streams_the_filtered_rows_and_neutralises_formulas(
    runtime: Runtime, audit_data: dict[str, Any]
) -> None:
    where = _where(audit_data, statuses=("failed", "queued"))
    with runtime.db.read() as session:
        text = "".join(csv_export.export_enrollments_csv(session=session, where=where))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["Email"] for row in rows] == ["ada@lovelace.com", "bob_100%@wingtip.com"]
    assert rows[0]["Last error (technical)"] == '\'=HYPERLINK("http://evil")'
    assert list(rows[0]) == list(csv_export.EXPORT_COLUMNS)


def test_csv_export_reads_as_words_with_project_names_utc_times_and_yes_no(
    runtime: Runtime, audit_data: dict[str, Any], clock: FakeClock
) -> None:
    ids = audit_data["ids"]
    set_enrollment(runtime, ids["synced"], project_id="proj-vpe")
    set_enrollment(runtime, ids["flagged"], project_id="proj-gone")
    with runtime.db.read() as session:
        text = "".join(
            csv_export.export_enrollments_csv(
                session=session, where=_where(audit_data), project_names={"proj-vpe": "VP Eng"}
            )
        )
    rows = {int(row["Enrollment ID"]): row for row in csv.DictReader(io.StringIO(text))}
    header = text.splitlines()[0]
    assert header.startswith("Enrollment ID,Email,Name,Sequence,Status,Reason,What to do")
    assert "_" not in header  # no column named like a database field
    synced, flagged = rows[ids["synced"]], rows[ids["flagged"]]
    assert (synced["Project"], synced["Project ID"]) == ("VP Eng", "proj-vpe")
    assert (flagged["Project"], flagged["Project ID"]) == ("", "proj-gone")
    assert (synced["Exists in Clockwork"], flagged["Exists in Clockwork"]) == ("No", "Yes")
    assert flagged["Created or linked"] == "Linked an existing person"
    assert rows[ids["retrying"]]["Status"] == "Retrying"
    assert rows[ids["failed"]]["Reason"] == "Clockwork refused the contact's data"
    # One timestamp format, ISO 8601 in UTC with its Z, in every time column.
    times = [
        row[name] for row in rows.values() for name in csv_export.EXPORT_COLUMNS if "(UTC)" in name
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t) for t in times if t)
    added = clock().replace(tzinfo=None) - timedelta(seconds=61.5)
    assert synced["Added (UTC)"] == f"{added:%Y-%m-%dT%H:%M:%S}Z"
    assert rows[ids["retrying"]]["Next attempt (UTC)"] == (
        f"{clock() + timedelta(seconds=30):%Y-%m-%dT%H:%M:%S}Z"
    )
    assert synced["Next attempt (UTC)"] == ""


def test_attempts_count_every_round_in_the_table_the_label_and_the_export(
    runtime: Runtime, audit_data: dict[str, Any], clock: FakeClock
) -> None:
    """A Retry starts a new round (``Enrollment.attempts`` back to 0), but the table, the
    status label, the detail and the export count every attempt the timeline lists."""
    enrollment_id = audit_data["ids"]["retrying"]
    with runtime.db.write() as session:
        for n in range(3):
            session.add(
                SyncAttempt(
                    enrollment_id=enrollment_id, account_id=audit_data["account_id"],
                    started_at=clock() + timedelta(seconds=n), outcome="retrying",
                    reason="rate_limited",
                )
            )  # fmt: skip
    set_enrollment(runtime, enrollment_id, attempts=1)  # the current round, after a Retry
    where = _where(audit_data, statuses=("retrying",))
    with runtime.db.read() as session:
        (row,) = contact_table.list_enrollments(session=session, where=where)
        detail = history.enrollment_detail(session=session, enrollment_id=enrollment_id)
        exported = "".join(csv_export.export_enrollments_csv(session=session, where=where))
    listed = [e for e in detail.timeline if e.event == "Sync attempt"]
    assert row.attempts == detail.row.attempts == len(listed) == 3
    assert row.status_label == "Retrying (after 3 attempts)"
    assert next(csv.DictReader(io.StringIO(exported)))["Attempts"] == "3"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+33 1", "'+33 1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain", "plain"),
        (None, ""),
        (3, "3"),
    ],
)
def test_spreadsheet_safe_neutralises_formula_starts(value: object, cell: str) -> None:
    assert csv_export.spreadsheet_safe(value) == cell


def test_filter_choices_offer_present_reasons_and_sequences(
    runtime: Runtime, audit_data: dict[str, Any]
) -> None:
    with runtime.db.read() as session:
        choices = contact_table.filter_choices(session=session, account_id=audit_data["account_id"])
    assert choices["reasons"] == ["rate_limited", "validation_error"]
    assert [name for _, name in choices["sequences"]] == ["CFO Search", "VP Engineering"]


# --- detail timeline ------------------------------------------------------------------------


def test_enrollment_detail_tells_the_story_in_order(
    runtime: Runtime, audit_data: dict[str, Any], clock: FakeClock
) -> None:
    enrollment_id = audit_data["ids"]["failed"]
    from sync_engine.models import ActivityKind
    from sync_engine.services.events import record_event

    with runtime.db.write() as session:
        record_event(
            session=session, enrollment_id=enrollment_id, kind=ActivityKind.OPENED, at=None,
            subject="Hello",
        )  # fmt: skip
        session.add(
            SyncAttempt(
                enrollment_id=enrollment_id, account_id=audit_data["account_id"],
                started_at=clock() + timedelta(seconds=1),
                finished_at=clock() + timedelta(seconds=2), outcome="failed",
                reason="validation_error", error="HTTP 422: url is not a LinkedIn URL", calls=3,
            )
        )  # fmt: skip
    with runtime.db.read() as session:
        detail = history.enrollment_detail(session=session, enrollment_id=enrollment_id)
    events = [(e.event, e.detail) for e in detail.timeline]
    assert events[0] == ("Added", "To the sequence CFO Search")
    assert events[1][0] == "Decision when added" and events[1][1].startswith("Queued for sync")
    assert ("Email opened", "“Hello” — note waiting to be written") in events
    attempt = next(e for e in detail.timeline if e.event == "Sync attempt")
    assert attempt.detail == (
        "Failed — Clockwork refused the contact's data; 3 requests to Clockwork"
    )
    # Clockwork's own words and the codes are for the Technical details, not the timeline.
    assert "HTTP 422: url is not a LinkedIn URL" in attempt.technical
    assert "validation_error" in attempt.technical
    assert detail.activity_counts["pending"] == 1


def test_enrollment_detail_of_a_missing_enrollment_says_so(runtime: Runtime) -> None:
    with runtime.db.read() as session, pytest.raises(NotFoundError):
        history.enrollment_detail(session=session, enrollment_id=999)


def test_decision_for_a_disabled_sequence_reads_as_skipped(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime)
    sequence = make_sequence(runtime, account_id, "Newsletter", disable_sync=True)
    enrollment_id = enroll(runtime, sequence, "a@b.com")
    with runtime.db.read() as session:
        detail = history.enrollment_detail(session=session, enrollment_id=enrollment_id)
    assert detail.timeline[1].detail.startswith(
        "Skipped: the sequence had Disable Sync on when the contact was added"
    )
    assert "Disable Sync on)" in detail.timeline[1].detail  # the settings then, in words
    assert "sequence_sync_disabled" in detail.timeline[1].technical


# --- activity -------------------------------------------------------------------------------


def test_activities_are_listed_and_counted_by_state(
    runtime: Runtime, audit_data: dict[str, Any], clock: FakeClock
) -> None:
    from sync_engine.models import ActivityKind
    from sync_engine.services.events import record_event

    with runtime.db.write() as session:
        for kind in (ActivityKind.SENT, ActivityKind.OPENED):
            record_event(
                session=session, enrollment_id=audit_data["ids"]["synced"], kind=kind, at=None,
                subject="Intro",
            )  # fmt: skip
    account_id = audit_data["account_id"]
    with runtime.db.read() as session:
        counts = logs.activity_counts_by_state(session=session, account_id=account_id)
        opened = logs.list_activities(session=session, account_id=account_id, kinds=("opened",))
        total = logs.count_activities(session=session, account_id=account_id)
    assert counts["pending"] == 2 and total == 2
    assert [(row.kind, row.email) for row in opened] == [("opened", "grace@northwind.com")]


def test_activity_pages_from_either_end_match_the_newest_first_order(
    runtime: Runtime, audit_data: dict[str, Any], clock: FakeClock
) -> None:
    from sync_engine.models import ActivityKind
    from sync_engine.services.events import record_event

    with runtime.db.write() as session:
        for number in range(7):
            record_event(
                session=session, enrollment_id=audit_data["ids"]["synced"],
                kind=ActivityKind.SENT, at=None, subject=f"Mail {number}",
            )  # fmt: skip
    account_id = audit_data["account_id"]
    with runtime.db.read() as session:
        total = logs.count_activities(session=session, account_id=account_id)
        pages = [
            [row.subject for row in logs.list_activities(
                session=session, account_id=account_id, limit=3, offset=offset, total=total)]
            for offset in (0, 3, 6, 9)
        ]  # fmt: skip
    assert pages == [["Mail 6", "Mail 5", "Mail 4"], ["Mail 3", "Mail 2", "Mail 1"], ["Mail 0"], []]


# --- engine health, timeline, logs ----------------------------------------------------------


def test_engine_health_reports_last_pass_heartbeat_problem_and_queue(
    runtime: Runtime, audit_data: dict[str, Any], clock: FakeClock
) -> None:
    now = clock()
    with runtime.db.write() as session:
        session.add(EngineRun(started_at=now - timedelta(seconds=20), finished_at=now,
                              trigger="scheduler", worker="w", counts={"claimed": 0}))  # fmt: skip
        session.add(EngineRun(started_at=now - timedelta(seconds=10), finished_at=now,
                              trigger="manual", worker="w", counts={"claimed": 3}))  # fmt: skip
        session.add(EngineRun(started_at=now - timedelta(seconds=5), finished_at=now,
                              trigger="job_missed", worker="w", error="missed"))  # fmt: skip
    # The queue is what still has to sync, by status: not a synced enrollment whose new notes
    # are due, nor a failed one with a stale due time.
    set_enrollment(runtime, audit_data["ids"]["synced"], next_attempt_at=now)
    set_enrollment(runtime, audit_data["ids"]["failed"], next_attempt_at=now)
    with runtime.db.read() as session:
        health = overview.engine_health(
            session=session, now=now, account_id=audit_data["account_id"]
        )
    assert health.last_run is not None and health.last_run.trigger == "manual"
    assert health.last_heartbeat_at == now - timedelta(seconds=20)
    assert health.last_problem is not None and health.last_problem.trigger == "job_missed"
    assert health.queued == 2  # the queued one and the retrying one
    assert health.due_now == 1  # the retry is due in 30 s


def test_engine_runs_can_hide_idle_passes(runtime: Runtime, clock: FakeClock) -> None:
    with runtime.db.write() as session:
        for claimed in (0, 4, 0):
            session.add(EngineRun(started_at=clock.advance(1), trigger="scheduler", worker="w",
                                  counts={"claimed": claimed}))  # fmt: skip
        session.add(EngineRun(started_at=clock.advance(1), trigger="job_error", worker="w",
                              counts={}, error="boom"))  # fmt: skip
    with runtime.db.read() as session:
        busy = logs.list_engine_runs(session=session, include_idle=False)
        every = logs.list_engine_runs(session=session)
    assert [run.trigger for run in busy] == ["job_error", "scheduler"]
    assert len(every) == 4


def test_sync_timeline_buckets_syncs_and_failures(
    runtime: Runtime, audit_data: dict[str, Any], clock: FakeClock
) -> None:
    with runtime.db.write() as session:
        session.add(
            SyncAttempt(enrollment_id=audit_data["ids"]["failed"],
                        account_id=audit_data["account_id"], started_at=clock(),
                        finished_at=clock(), outcome="failed")
        )  # fmt: skip
    now = clock()
    with runtime.db.read() as session:
        points = overview.sync_timeline(
            session=session, account_id=audit_data["account_id"],
            since=now - timedelta(minutes=5), now=now, bucket_seconds=60,
        )  # fmt: skip
    assert len(points) == 6
    assert sum(p.synced for p in points) == 2 and sum(p.failed for p in points) == 1
    assert points[-1].synced == 2 and points[-1].at <= now


def test_api_call_log_and_last_successful_call(
    runtime: Runtime, audit_data: dict[str, Any], clock: FakeClock
) -> None:
    account_id = audit_data["account_id"]
    with runtime.db.write() as session:
        session.add(ApiCall(account_id=account_id, at=clock.advance(5), method="GET",
                            path="/people/search", status=200, latency_ms=80))  # fmt: skip
        session.add(ApiCall(account_id=account_id, at=clock.advance(5), method="POST",
                            path="/people", status=429, latency_ms=12, error="rate limited"))  # fmt: skip
        session.add(ApiCall(account_id=account_id, at=clock.advance(5), method="POST",
                            path="/people", status=None, latency_ms=15000, error="timeout"))  # fmt: skip
    with runtime.db.read() as session:
        errors = logs.list_api_calls(session=session, account_id=account_id, errors_only=True)
        stats = logs.api_call_stats(
            session=session, account_id=account_id, since=clock() - timedelta(hours=1)
        )
        last_ok = overview.last_successful_call(session=session, account_id=account_id)
        accounts_now = overview.account_overview(session=session)
    assert [call.status for call in errors] == [None, 429]
    assert (stats.calls, stats.errors, stats.rate_limited) == (3, 2, 1)
    assert last_ok == clock() - timedelta(seconds=10)
    assert accounts_now[0].last_success_at == last_ok


def test_audit_entries_are_counted_per_account(runtime: Runtime) -> None:
    first = make_account(runtime, "One")
    make_account(runtime, "Two")
    with runtime.db.read() as session:
        assert logs.count_audit_entries(session=session) == 2
        assert logs.count_audit_entries(session=session, account_id=first) == 1
        assert logs.account_names(session=session)[first] == "One"


# --- sequences and previews -----------------------------------------------------------------


def test_sequence_overview_shows_disabled_sync_and_effective_project(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime, default_project_id="proj-default")
    first = make_sequence(runtime, account_id, "A", project_id="proj-a")
    make_sequence(runtime, account_id, "B", disable_sync=True)
    enroll(runtime, first, "one@a.com")
    set_enrollment(
        runtime, enroll(runtime, first, "two@a.com"), status="failed", next_attempt_at=None
    )
    with runtime.db.read() as session:
        rows = overview.sequence_overview(session=session, account_id=account_id)
        breakdown = overview.sequence_status_counts(session=session, sequence_id=first)
    assert [(r.name, r.disable_sync, r.effective_project_id, r.total, r.failed) for r in rows] == [
        ("A", False, "proj-a", 2, 1),
        ("B", True, "proj-default", 0, 0),
    ]
    assert (breakdown["queued"], breakdown["failed"], breakdown["synced"]) == (1, 1, 0)


def test_settings_preview_explains_what_a_new_default_project_affects(
    runtime: Runtime, clock: FakeClock
) -> None:
    account_id = make_connected_account(runtime, sync_mode="on_reply")
    plain = make_sequence(runtime, account_id, "No override")
    override = make_sequence(runtime, account_id, "Override", project_id="proj-x")
    waiting = [enroll(runtime, plain, f"w{i}@a.com") for i in range(3)]
    enroll(runtime, override, "o@a.com")  # awaiting reply, but keeps its sequence's project
    set_enrollment(runtime, waiting[0], status="synced", next_attempt_at=None)
    with runtime.db.read() as session:
        preview = previews.preview_settings_change(
            session=session, account_id=account_id, changes={"default_project_id": "proj-new"}
        )
    assert "2 contacts awaiting a reply will join the new project when they reply." in preview.will
    assert "1 contact already synced is not re-synced to the new project." in preview.will_not


def test_settings_preview_of_mode_and_tracking_changes(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime, sync_mode="off")
    sequence = make_sequence(runtime, account_id)
    enroll(runtime, sequence, "skipped@a.com")
    with runtime.db.read() as session:
        preview = previews.preview_settings_change(
            session=session,
            account_id=account_id,
            changes={"sync_mode": "on_add", "activity_tracking": False, "deduplication": True},
        )
    assert preview.will[0] == "Contacts added from now on will sync when added to a sequence."
    assert any("not backfilled" in line for line in preview.will_not)
    assert "Email activity from now on is not sent to Clockwork." in preview.will
    assert not any("deduplication" in line.lower() for line in preview.will)  # unchanged


def test_settings_preview_of_linking_by_linkedin_both_ways(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime)

    def preview(on: bool) -> previews.ChangePreview:
        with runtime.db.read() as session:
            return previews.preview_settings_change(
                session=session, account_id=account_id, changes={"link_by_linkedin": on}
            )

    turned_on = preview(True)
    assert any("same LinkedIn profile" in line for line in turned_on.will)
    assert turned_on.will_not == ["People already linked or created stay as they are."]
    with runtime.db.write() as session:
        accounts.update_settings(
            session=session, account_id=account_id, changes={"link_by_linkedin": True},
            actor="test",
        )  # fmt: skip
    assert any("matched by email only" in line for line in preview(False).will)
    assert preview(True).empty  # no change, nothing to say


def test_settings_preview_of_nothing_is_empty(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime)
    with runtime.db.read() as session:
        preview = previews.preview_settings_change(
            session=session, account_id=account_id, changes={"sync_mode": "on_add"}
        )
    assert preview.empty


def test_sequence_preview_warns_that_decided_contacts_keep_their_decision(
    runtime: Runtime,
) -> None:
    account_id = make_connected_account(runtime)
    sequence = make_sequence(runtime, account_id)
    queued = enroll(runtime, sequence, "q@a.com")
    synced = enroll(runtime, sequence, "s@a.com")
    set_enrollment(runtime, synced, status="synced", next_attempt_at=None)
    with runtime.db.read() as session:
        preview = previews.preview_sequence_change(
            session=session, sequence_id=sequence,
            changes={"disable_sync": True, "project_id": "proj-late"},
        )  # fmt: skip
    assert "Contacts added from now on will never sync, even if they reply." in preview.will
    assert "1 contact already synced is not re-synced to it." in preview.will_not
    assert "1 contact already queued keeps the project decided when added." in preview.will_not
    assert queued


# --- the firm's projects --------------------------------------------------------------------


def test_firm_projects_lists_the_connected_firms_projects_by_name(
    runtime: Runtime, sim_state: SimulatorState
) -> None:
    account_id = make_connected_account(runtime)
    choices = projects.firm_projects(runtime, account_id=account_id)
    names = [choice.name for choice in choices]
    assert names == sorted(names, key=str.lower) and len(names) >= 4
    accounts.check_connection(runtime, account_id=account_id)


def test_firm_projects_of_an_unconnected_account_explains(runtime: Runtime) -> None:
    account_id = make_account(runtime)
    with pytest.raises(ConnectionRejectedError, match="connect Clockwork first"):
        projects.firm_projects(runtime, account_id=account_id)
    with pytest.raises(ConnectionRejectedError, match="not connected"):
        accounts.check_connection(runtime, account_id=account_id)


def test_activity_rows_keep_subjects_as_plain_text(runtime: Runtime, clock: FakeClock) -> None:
    account_id = make_connected_account(runtime)
    enrollment_id = enroll(runtime, make_sequence(runtime, account_id), "x@y.com")
    with runtime.db.write() as session:
        session.add(
            Activity(enrollment_id=enrollment_id, account_id=account_id, kind="sent",
                     occurred_at=clock(), subject="<b>hi</b>", tracked=True, activity_key="k1")
        )  # fmt: skip
    with runtime.db.read() as session:
        (row,) = logs.list_activities(session=session, account_id=account_id)
    assert row.subject == "<b>hi</b>"
    assert EnrollmentStatus.QUEUED == "queued"


# --- a NUL in the search box (issue 12, item 9) ---------------------------------------------------


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ada\x00", ["failed"]),  # the trigram table's path on SQLite
        ("ada@\x00", ["failed"]),  # an email's start
        ("\x00@wingtip", ["queued", "retrying"]),  # a domain
        ("ad\x00", ["failed"]),  # under three characters: a LIKE scan
        ("ada\tlove", ["failed"]),  # a pasted tab reads as the space it stands for
        ("\x00", ["queued", "retrying", "failed", "flagged", "synced"]),  # nothing left: no filter
    ],
)
def test_control_characters_in_a_search_are_left_out_with_a_notice(
    runtime: Runtime, audit_data: dict[str, Any], term: str, expected: list[str]
) -> None:
    names = {value: key for key, value in audit_data["ids"].items()}
    where = _where(audit_data, search=term)
    with runtime.db.read() as session:
        rows = contact_table.list_enrollments(session=session, where=where)
        total = contact_table.count_enrollments(session=session, where=where)
        exported = list(csv_export.export_enrollments_csv(session=session, where=where))
    assert [names[row.enrollment_id] for row in rows] == expected
    assert total == len(expected) and len(exported) >= 1
    assert "control characters" in (contact_table.search_notice(term) or "")
    assert contact_table.search_notice("ada lovelace") is None

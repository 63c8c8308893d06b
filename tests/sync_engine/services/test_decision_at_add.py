"""R1's decision at add is stored when it is made, and the enrollment detail tells the stored one
(``Enrollment.action_at_add`` / ``reason_at_add``, migration 0009), on both storage backends."""

from __future__ import annotations

from alembic import command

from sync_engine.db import Database, alembic_config
from sync_engine.models import Enrollment
from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from sync_engine.services.queries import history
from tests.factories import enroll, make_connected_account
from tests.factories import make_sequence as sequence_of

# (how the contact is added) -> (action, reason) stored, as R1 decides at add.
CASES = {
    "on add": ("sync", None),
    "on reply": ("await_reply", None),
    "sync off": ("skip", "sync_off"),
    "Disable Sync": ("skip", "sequence_sync_disabled"),
    "not connected": ("skip", "not_connected"),
}


def _one_of_each(runtime: Runtime) -> dict[str, int]:
    """An enrollment per case of :data:`CASES`; returns their ids by case."""
    on_add = make_connected_account(runtime, "On add")
    on_reply = make_connected_account(runtime, "On reply", sync_mode="on_reply")
    off = make_connected_account(runtime, "Off", sync_mode="off")
    with runtime.db.write() as session:
        never = accounts.create_account(session=session, name="Never connected", actor="test").id
    assert never is not None
    return {
        "on add": enroll(runtime, sequence_of(runtime, on_add), "a@a.com"),
        "on reply": enroll(runtime, sequence_of(runtime, on_reply), "b@a.com"),
        "sync off": enroll(runtime, sequence_of(runtime, off), "c@a.com"),
        "Disable Sync": enroll(
            runtime, sequence_of(runtime, on_add, "Closed", disable_sync=True), "d@a.com"
        ),
        "not connected": enroll(runtime, sequence_of(runtime, never), "e@a.com"),
    }


def _stored(database: Database, ids: dict[str, int]) -> dict[str, tuple[str | None, str | None]]:
    with database.read() as session:
        rows = {case: session.get(Enrollment, i) for case, i in ids.items()}
    return {case: (row.action_at_add, row.reason_at_add) for case, row in rows.items() if row}


def test_adding_a_contact_stores_the_decision_made_then(runtime: Runtime) -> None:
    assert _stored(runtime.db, _one_of_each(runtime)) == CASES


def test_the_detail_tells_the_stored_decision_not_the_rule_run_again(runtime: Runtime) -> None:
    """A decision stored under another rule (an older version's, say) is told as it was made."""
    enrollment_id = enroll(
        runtime, sequence_of(runtime, make_connected_account(runtime)), "a@a.com"
    )
    with runtime.db.write() as session:
        row = session.get(Enrollment, enrollment_id)
        assert row is not None
        row.action_at_add, row.reason_at_add = "await_reply", None
        session.add(row)
    with runtime.db.read() as session:
        event = history.enrollment_detail(session=session, enrollment_id=enrollment_id).timeline[1]
    assert event.event == "Decision when added"
    assert event.detail == (
        "Waiting for a reply (sync on reply) (settings then: sync when added, Clockwork "
        "connected, deduplication on)"
    )


def test_the_detail_says_when_the_decision_was_not_recorded(runtime: Runtime) -> None:
    ids = _one_of_each(runtime)
    with runtime.db.write() as session:
        for enrollment_id in (ids["on add"], ids["sync off"]):
            row = session.get(Enrollment, enrollment_id)
            assert row is not None
            row.action_at_add = row.reason_at_add = None
            session.add(row)
    with runtime.db.read() as session:
        queued, off = (
            history.enrollment_detail(session=session, enrollment_id=i).timeline[1]
            for i in (ids["on add"], ids["sync off"])
        )
    assert queued.detail.startswith(history.NOT_RECORDED + " (settings then: sync when added,")
    assert off.detail.startswith(history.NOT_RECORDED + " (settings then: sync off,")
    assert off.technical == ""


def test_the_detail_of_a_skipped_contact_says_why_in_words(runtime: Runtime) -> None:
    ids = _one_of_each(runtime)
    with runtime.db.read() as session:
        event = history.enrollment_detail(session=session, enrollment_id=ids["sync off"]).timeline[
            1
        ]
    assert event.detail.startswith(
        "Skipped: sync was off when this contact was added or replied (settings then: sync off,"
    )
    assert event.technical == "reason code sync_off"


def test_the_migration_fills_the_decision_of_enrollments_added_before_it(
    runtime: Runtime, database_url: str
) -> None:
    ids = _one_of_each(runtime)
    runtime.close()
    config = alembic_config(database_url)
    command.downgrade(config, "0006_dashboard_speed")  # the revision before the columns
    command.upgrade(config, "head")
    database = Database(database_url)
    try:
        assert _stored(database, ids) == CASES
    finally:
        database.dispose()

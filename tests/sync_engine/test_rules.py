"""SPEC §3 R1/R2/R5 as a table: each row is one sentence of the spec, checked against the rules."""

from __future__ import annotations

import pytest

from sync_engine.models import EnrollmentStatus, Reason, SyncMode
from sync_engine.rules import (
    AccountSnapshot,
    Action,
    SequenceSnapshot,
    activity_is_tracked,
    decide_on_add,
    decide_on_reply,
)

ON_ADD, ON_REPLY, OFF = SyncMode.ON_ADD, SyncMode.ON_REPLY, SyncMode.OFF


def account(
    mode: SyncMode = ON_ADD,
    *,
    connected: bool = True,
    dedup: bool = True,
    default_project: str | None = None,
    tracking: bool = True,
) -> AccountSnapshot:
    return AccountSnapshot(
        sync_mode=mode,
        connected=connected,
        deduplication=dedup,
        default_project_id=default_project,
        activity_tracking=tracking,
    )


def sequence(*, disabled: bool = False, project: str | None = None) -> SequenceSnapshot:
    return SequenceSnapshot(disable_sync=disabled, project_id=project)


# (spec sentence, account at add, sequence at add, action, reason, project)
ADD_ROWS = [
    (
        "R1 add, on_add, enabled, connected -> queued",
        account(),
        sequence(),
        Action.SYNC,
        None,
        None,
    ),
    (
        "R1 add, on_reply -> awaiting reply",
        account(ON_REPLY),
        sequence(),
        Action.AWAIT_REPLY,
        None,
        None,
    ),
    (
        "R1 mode off at add -> skipped sync off",
        account(OFF),
        sequence(),
        Action.SKIP,
        Reason.SYNC_OFF,
        None,
    ),
    (
        "R1 Disable Sync at add -> skipped for good",
        account(),
        sequence(disabled=True),
        Action.SKIP,
        Reason.SEQUENCE_SYNC_DISABLED,
        None,
    ),
    (
        "R1 Disable Sync wins over mode off",
        account(OFF),
        sequence(disabled=True),
        Action.SKIP,
        Reason.SEQUENCE_SYNC_DISABLED,
        None,
    ),
    (
        "R1 Disable Sync at add, on_reply",
        account(ON_REPLY),
        sequence(disabled=True),
        Action.SKIP,
        Reason.SEQUENCE_SYNC_DISABLED,
        None,
    ),
    (
        "R1 not connected at add -> skipped not connected",
        account(connected=False),
        sequence(),
        Action.SKIP,
        Reason.NOT_CONNECTED,
        None,
    ),
    (
        "R1 not connected, on_reply -> skipped not connected",
        account(ON_REPLY, connected=False),
        sequence(),
        Action.SKIP,
        Reason.NOT_CONNECTED,
        None,
    ),
    (
        "R2 sequence override wins",
        account(default_project="acct"),
        sequence(project="seq"),
        Action.SYNC,
        None,
        "seq",
    ),
    (
        "R2 else the account default",
        account(default_project="acct"),
        sequence(),
        Action.SYNC,
        None,
        "acct",
    ),
    ("R2 else no project", account(), sequence(), Action.SYNC, None, None),
]


@pytest.mark.parametrize(
    ("rule", "acct", "seq", "action", "reason", "project"),
    ADD_ROWS,
    ids=[row[0] for row in ADD_ROWS],
)
def test_add_trigger(
    rule: str,
    acct: AccountSnapshot,
    seq: SequenceSnapshot,
    action: Action,
    reason: Reason | None,
    project: str | None,
) -> None:
    decision = decide_on_add(acct, seq)
    assert (decision.action, decision.reason, decision.project_id) == (action, reason, project)


def test_add_checks_exists_in_clockwork_only_with_deduplication_on() -> None:
    assert decide_on_add(account(dedup=True), sequence()).check_exists
    assert not decide_on_add(account(dedup=False), sequence()).check_exists


S, R = EnrollmentStatus, Reason
# (spec sentence, status now, reason now, account at reply, sequence at reply, action or None, reason)
REPLY_ROWS = [
    (
        "R1 reply, on_reply, awaiting -> queued",
        S.AWAITING_REPLY,
        None,
        account(ON_REPLY),
        sequence(),
        Action.SYNC,
        None,
    ),
    (
        "R1 reply, mode switched to on_add meanwhile -> queued",
        S.AWAITING_REPLY,
        None,
        account(ON_ADD),
        sequence(),
        Action.SYNC,
        None,
    ),
    (
        "R1 reply, mode off at reply -> skipped sync off",
        S.AWAITING_REPLY,
        None,
        account(OFF),
        sequence(),
        Action.SKIP,
        R.SYNC_OFF,
    ),
    (
        "R1 reply, disconnected at reply -> skipped",
        S.AWAITING_REPLY,
        None,
        account(ON_REPLY, connected=False),
        sequence(),
        Action.SKIP,
        R.NOT_CONNECTED,
    ),
    (
        "R1 reply after 'sync off' at add, mode now on -> queued",
        S.SKIPPED,
        R.SYNC_OFF,
        account(ON_REPLY),
        sequence(),
        Action.SYNC,
        None,
    ),
    (
        "R1 reply after 'not connected' at add, now connected -> queued",
        S.SKIPPED,
        R.NOT_CONNECTED,
        account(ON_ADD),
        sequence(),
        Action.SYNC,
        None,
    ),
    (
        "R1 Disable Sync at add: a reply never syncs it",
        S.SKIPPED,
        R.SEQUENCE_SYNC_DISABLED,
        account(ON_REPLY),
        sequence(),
        None,
        None,
    ),
    (
        "R1 Disable Sync turned on after add does not stop it",
        S.AWAITING_REPLY,
        None,
        account(ON_REPLY),
        sequence(disabled=True),
        Action.SYNC,
        None,
    ),
    (
        "B5 dismissed stays dismissed",
        S.SKIPPED,
        R.DISMISSED,
        account(ON_REPLY),
        sequence(),
        None,
        None,
    ),
    (
        "R1 already queued: reply changes nothing",
        S.QUEUED,
        None,
        account(ON_REPLY),
        sequence(),
        None,
        None,
    ),
    ("R1 already synced: not re-synced", S.SYNCED, None, account(ON_REPLY), sequence(), None, None),
    (
        "R7 failed: reply does not retry it",
        S.FAILED,
        R.VALIDATION_ERROR,
        account(ON_REPLY),
        sequence(),
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("rule", "status", "reason_now", "acct", "seq", "action", "reason"),
    REPLY_ROWS,
    ids=[row[0] for row in REPLY_ROWS],
)
def test_reply_trigger(
    rule: str,
    status: EnrollmentStatus,
    reason_now: Reason | None,
    acct: AccountSnapshot,
    seq: SequenceSnapshot,
    action: Action | None,
    reason: Reason | None,
) -> None:
    decision = decide_on_reply(status=status, reason=reason_now, account=acct, sequence=seq)
    if action is None:
        assert decision is None
    else:
        assert decision is not None
        assert (decision.action, decision.reason) == (action, reason)


def test_reply_takes_the_project_in_force_at_the_reply() -> None:
    decision = decide_on_reply(
        status=S.AWAITING_REPLY,
        reason=None,
        account=account(ON_REPLY, default_project="later"),
        sequence=sequence(),
    )
    assert decision is not None and decision.project_id == "later"


@pytest.mark.parametrize(
    ("connected", "tracking", "tracked"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_activity_tracked_only_when_connected_with_tracking_on(
    connected: bool, tracking: bool, tracked: bool
) -> None:
    assert activity_is_tracked(account(connected=connected, tracking=tracking)) is tracked

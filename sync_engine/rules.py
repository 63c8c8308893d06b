"""The sync rules of SPEC §3 (R1, R2, R4, R5) as pure functions of a settings snapshot and a trigger.

Nothing here touches the store, the clock or the network: callers build the snapshots from the
settings in force at the trigger and persist the returned :class:`Decision` with the enrollment.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sync_engine.models import EnrollmentStatus, Reason, SyncMode


@dataclass(frozen=True)
class AccountSnapshot:
    """An account's settings and connection state at the moment of a trigger."""

    sync_mode: SyncMode
    connected: bool
    deduplication: bool
    default_project_id: str | None
    activity_tracking: bool


@dataclass(frozen=True)
class SequenceSnapshot:
    """A sequence's Syncing tab at the moment of a trigger."""

    disable_sync: bool
    project_id: str | None


class Action(StrEnum):
    """What happens to an enrollment after a trigger."""

    SYNC = "sync"
    AWAIT_REPLY = "await_reply"
    SKIP = "skip"


@dataclass(frozen=True)
class Decision:
    """The outcome of a trigger: the action, why (when skipped), and the project snapshot (R2)."""

    action: Action
    reason: Reason | None = None
    project_id: str | None = None
    check_exists: bool = False

    @property
    def status(self) -> EnrollmentStatus:
        """The enrollment status this decision puts the enrollment in."""
        return {
            Action.SYNC: EnrollmentStatus.QUEUED,
            Action.AWAIT_REPLY: EnrollmentStatus.AWAITING_REPLY,
            Action.SKIP: EnrollmentStatus.SKIPPED,
        }[self.action]


def resolve_project(account: AccountSnapshot, sequence: SequenceSnapshot) -> str | None:
    """R2: the sequence's override, else the account default, else no project."""
    return sequence.project_id or account.default_project_id or None


def decide_on_add(account: AccountSnapshot, sequence: SequenceSnapshot) -> Decision:
    """R1 at the *add* trigger: queue, wait for a reply, or skip with a reason.

    Disable Sync is checked first because it is permanent for the enrollment (a later reply cannot
    undo it); "sync off" and "not connected" only apply to this trigger.
    """
    if sequence.disable_sync:
        return Decision(Action.SKIP, Reason.SEQUENCE_SYNC_DISABLED)
    if account.sync_mode == SyncMode.OFF:
        return Decision(Action.SKIP, Reason.SYNC_OFF)
    if not account.connected:
        return Decision(Action.SKIP, Reason.NOT_CONNECTED)
    if account.sync_mode == SyncMode.ON_REPLY:
        return Decision(Action.AWAIT_REPLY)
    return Decision(
        Action.SYNC,
        project_id=resolve_project(account, sequence),
        check_exists=account.deduplication,
    )


# Statuses from which a reply can still queue a sync: never synced, not already in the queue, and
# not excluded for good (Disable Sync at add, dismissed by staff).
_REPLY_CAN_QUEUE = {EnrollmentStatus.AWAITING_REPLY, EnrollmentStatus.SKIPPED}
_PERMANENT_SKIPS = {Reason.SEQUENCE_SYNC_DISABLED, Reason.DISMISSED}


def decide_on_reply(
    *,
    status: EnrollmentStatus,
    reason: Reason | None,
    account: AccountSnapshot,
    sequence: SequenceSnapshot,
) -> Decision | None:
    """R1 at the *reply* trigger, for an enrollment currently in ``status``/``reason``.

    Returns None when the reply changes nothing (already queued, syncing, synced, failed, or
    excluded for good at add).
    """
    if status not in _REPLY_CAN_QUEUE or reason in _PERMANENT_SKIPS:
        return None
    if account.sync_mode == SyncMode.OFF:
        return Decision(Action.SKIP, Reason.SYNC_OFF)
    if not account.connected:
        return Decision(Action.SKIP, Reason.NOT_CONNECTED)
    return Decision(
        Action.SYNC,
        project_id=resolve_project(account, sequence),
        check_exists=account.deduplication,
    )


def activity_is_tracked(account: AccountSnapshot) -> bool:
    """R5: an activity is synced only if, when it happened, the account was connected and tracking."""
    return account.connected and account.activity_tracking

"""Read-only queries behind the dashboard's pages: overviews, counts, the contact audit table.

Every function takes ``*, session`` and returns plain dataclasses or dicts, so a page only renders.
Aggregation, filtering and paging happen in SQL (GROUP BY, COUNT, LIMIT/OFFSET on indexed
columns), never by loading a table into memory, so the pages stay fast at a million enrollments.
The plain-language meaning of every reason code (SPEC §4) and the action it calls for live here too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, func, select

from sync_engine.models import (
    Account,
    ClockworkConnection,
    ConnectionState,
    Enrollment,
    EnrollmentStatus,
)

# --- reasons in plain words -----------------------------------------------------------------


@dataclass(frozen=True)
class ReasonInfo:
    """What a reason code means to a person, and the action that resolves it (None: nothing)."""

    code: str
    message: str
    action: str | None


_REASONS: dict[str, tuple[str, str | None]] = {
    "sync_off": ("Sync was off when this contact was added or replied", None),
    "sequence_sync_disabled": ("The sequence had Disable Sync on when the contact was added", None),
    "not_connected": ("Clockwork was not connected when this contact was added", None),
    "dismissed": ("Dismissed by staff; it will not sync", None),
    "invalid_email": ("The email address is not valid", "Fix the email"),
    "auth_failed": ("Clockwork rejected the account's credentials", "Reconnect Clockwork"),
    "rate_limited": ("Clockwork asked us to slow down; retrying automatically", "Retry"),
    "clockwork_unavailable": ("Clockwork was unavailable (server error or timeout)", "Retry"),
    "network_error": ("Clockwork could not be reached over the network", "Retry"),
    "validation_error": ("Clockwork refused the contact's data", "Fix the contact, then Retry"),
    "not_found": ("A Clockwork record it needed no longer exists", "Retry"),
    "account_paused": ("Syncing is paused for this account", "Resume syncing"),
    "tracking_off": ("Activity tracking was off when this happened (not backfilled)", None),
}


def reason_info(code: str | None) -> ReasonInfo | None:
    """The plain-language message and action for a reason code (unknown codes are shown as is)."""
    if not code:
        return None
    message, action = _REASONS.get(code, (code.replace("_", " ").capitalize(), "Retry"))
    return ReasonInfo(code=code, message=message, action=action)


STATUS_LABELS: dict[str, str] = {
    EnrollmentStatus.AWAITING_REPLY: "Awaiting reply",
    EnrollmentStatus.QUEUED: "Queued",
    EnrollmentStatus.SYNCING: "Syncing",
    EnrollmentStatus.SYNCED: "Synced",
    EnrollmentStatus.RETRYING: "Retrying",
    EnrollmentStatus.FAILED: "Failed",
    EnrollmentStatus.SKIPPED: "Skipped",
}


# --- accounts at a glance -------------------------------------------------------------------


@dataclass
class AccountHealth:
    """One row of the cross-account overview (SPEC B10)."""

    account_id: int
    name: str
    connection: str
    sync_paused: bool
    last_success_at: datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    exists_in_clockwork: int = 0

    @property
    def total(self) -> int:
        """Enrollments of the account."""
        return sum(self.counts.values())

    @property
    def problems(self) -> list[str]:
        """Why the account needs attention, most urgent first (empty when healthy)."""
        found = []
        if self.connection == ConnectionState.NEEDS_ATTENTION:
            found.append("Credentials rejected")
        if self.sync_paused:
            found.append("Sync paused")
        failed = self.counts.get(EnrollmentStatus.FAILED, 0)
        if failed:
            found.append(f"{failed} failed")
        retrying = self.counts.get(EnrollmentStatus.RETRYING, 0)
        if retrying:
            found.append(f"{retrying} retrying")
        return found

    @property
    def needs_attention(self) -> bool:
        """Whether someone should look at the account now."""
        return bool(self.problems)


def account_overview(*, session: Session) -> list[AccountHealth]:
    """Every account with its connection, status counts and flags; those needing attention first.

    Two grouped queries over the enrollment indexes, whatever the number of enrollments.
    """
    rows = session.exec(
        select(Account, ClockworkConnection)
        .join(
            ClockworkConnection,
            col(ClockworkConnection.account_id) == col(Account.id),
            isouter=True,
        )
        .order_by(col(Account.name))
    ).all()
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for account_id, status, count in session.exec(
        select(Enrollment.account_id, Enrollment.status, func.count()).group_by(
            col(Enrollment.account_id), col(Enrollment.status)
        )
    ).all():
        counts[account_id][status] = count
    flags = dict(
        session.exec(
            select(Enrollment.account_id, func.count())
            .where(col(Enrollment.exists_in_clockwork).is_(True))
            .group_by(col(Enrollment.account_id))
        ).all()
    )
    health = []
    for account, connection in rows:
        assert account.id is not None
        health.append(
            AccountHealth(
                account_id=account.id,
                name=account.name,
                connection=connection.state if connection else "never_connected",
                sync_paused=account.sync_paused,
                last_success_at=connection.last_success_at if connection else None,
                counts=counts.get(account.id, {}),
                exists_in_clockwork=flags.get(account.id, 0),
            )
        )
    health.sort(key=lambda row: (not row.needs_attention, row.name.lower()))
    return health


def status_counts(*, session: Session, account_id: int) -> dict[str, int]:
    """Enrollments of an account by status; every status present, zero when none."""
    counts = {status.value: 0 for status in EnrollmentStatus}
    for status, count in session.exec(
        select(Enrollment.status, func.count())
        .where(Enrollment.account_id == account_id)
        .group_by(col(Enrollment.status))
    ).all():
        counts[status] = count
    return counts

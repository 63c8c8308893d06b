"""How accounts, the engine and sequences stand: the Overview's health, counts and charts.

Every function takes ``*, session`` and returns plain dataclasses or dicts. Counting happens in
SQL over indexes (never a table loaded into memory), so the pages stay fast at a million
enrollments.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from sync_engine.connections import get_connection
from sync_engine.models import (
    SYNC_PENDING,
    Account,
    AccountSettings,
    ApiCall,
    ClockworkConnection,
    ConnectionState,
    EngineRun,
    Enrollment,
    EnrollmentStatus,
    Sequence,
    SyncAttempt,
)
from sync_engine.services.queries.reason_texts import STATUS_LABELS, reason_info
from sync_engine.services.queries.sql import aware, is_sqlite, latest

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
            found.append(f"{failed:,} failed")
        retrying = self.counts.get(EnrollmentStatus.RETRYING, 0)
        if retrying:
            found.append(f"{retrying:,} retrying")
        return found

    @property
    def needs_attention(self) -> bool:
        """Whether someone should look at the account now."""
        return bool(self.problems)


def account_overview(*, session: Session) -> list[AccountHealth]:
    """Every account with its connection, status counts and flags; those needing attention first.

    One grouped scan of the status index for the counts; the flags are counted per account in
    the flag index's range of flagged rows only, not a scan of the whole index.
    """
    # ``= true``, not ``IS true``: PostgreSQL's index answers only the former.
    flagged = (
        select(func.count())
        .select_from(Enrollment)
        .where(
            col(Enrollment.account_id) == col(Account.id),
            col(Enrollment.exists_in_clockwork) == sa.true(),
        )
        .correlate(Account)
        .scalar_subquery()
    )
    rows = session.exec(
        select(Account, ClockworkConnection, flagged)
        .join(
            ClockworkConnection,
            col(ClockworkConnection.account_id) == col(Account.id),
            isouter=True,
        )
        .order_by(col(Account.name))
    ).all()
    # Each (account, status) counted in its range of the status index: the same entries as one
    # grouped pass, without grouping every row of the table.
    statuses = sa.union_all(
        *(sa.select(sa.literal(status.value).label("status")) for status in EnrollmentStatus)
    ).subquery("statuses")
    per_status = (
        select(func.count())
        .select_from(Enrollment)
        .where(
            col(Enrollment.account_id) == col(Account.id),
            col(Enrollment.status) == statuses.c.status,
        )
        .correlate(Account, statuses)
        .scalar_subquery()
    )
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for account_id, status, count in session.exec(
        select(Account.id, statuses.c.status, per_status).join(statuses, sa.true())
    ).all():
        if count and account_id is not None:
            counts[account_id][status] = count
    last_ok = last_successful_calls(session=session)
    health = []
    for account, connection, flag_count in rows:
        assert account.id is not None
        health.append(
            AccountHealth(
                account_id=account.id,
                name=account.name,
                connection=connection.state if connection else "never_connected",
                sync_paused=account.sync_paused,
                last_success_at=latest(
                    connection.last_success_at if connection else None, last_ok.get(account.id)
                ),
                counts=counts.get(account.id, {}),
                exists_in_clockwork=int(flag_count or 0),
            )
        )
    health.sort(key=lambda row: (not row.needs_attention, row.name.lower()))
    return health


def last_successful_calls(*, session: Session) -> dict[int, datetime]:
    """Per account, when Clockwork last answered a request with success (from the API call log)."""
    rows = session.exec(
        select(ApiCall.account_id, func.max(ApiCall.at))
        .where(col(ApiCall.status) < 400, col(ApiCall.account_id).is_not(None))
        .group_by(col(ApiCall.account_id))
    ).all()
    found: dict[int, datetime] = {}
    for account_id, at in rows:
        moment = aware(at)
        if account_id is not None and moment is not None:
            found[account_id] = moment
    return found


def last_successful_call(*, session: Session, account_id: int) -> datetime | None:
    """When Clockwork last accepted a request of the account: the call log or the last connect."""
    connection = get_connection(session=session, account_id=account_id)
    logged = session.exec(
        select(func.max(ApiCall.at)).where(
            ApiCall.account_id == account_id, col(ApiCall.status) < 400
        )
    ).one()
    return latest(connection.last_success_at if connection else None, aware(logged))


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


# --- engine health --------------------------------------------------------------------------

HEARTBEAT_TRIGGER = "scheduler"
PROBLEM_TRIGGERS = ("job_error", "job_missed")


@dataclass(frozen=True)
class EngineHealth:
    """The engine as the Overview shows it: last pass, scheduler heartbeat, queue depth."""

    last_run: EngineRun | None
    last_heartbeat_at: datetime | None
    last_problem: EngineRun | None
    queued: int
    due_now: int


def engine_health(
    *, session: Session, now: datetime, account_id: int | None = None
) -> EngineHealth:
    """The newest pass and heartbeat, the newest scheduler problem, and the queue's depth.

    Queue depth counts enrollments waiting to sync (queued, retrying or syncing), and of those the
    ones already due; optionally for one account.
    """
    last_run = session.exec(
        select(EngineRun)
        .where(col(EngineRun.trigger).not_in(PROBLEM_TRIGGERS))
        .order_by(col(EngineRun.started_at).desc(), col(EngineRun.id).desc())
        .limit(1)
    ).first()
    heartbeat = session.exec(
        select(EngineRun.started_at)
        .where(EngineRun.trigger == HEARTBEAT_TRIGGER)
        .order_by(col(EngineRun.started_at).desc())
        .limit(1)
    ).first()
    problem = session.exec(
        select(EngineRun)
        .where(col(EngineRun.trigger).in_(PROBLEM_TRIGGERS) | col(EngineRun.error).is_not(None))
        .order_by(col(EngineRun.started_at).desc(), col(EngineRun.id).desc())
        .limit(1)
    ).first()
    # One pass over the queue's range of ix_enrollment_account_due (account, status, due time):
    # the queue is small next to the table, and its due times are in the index, so no queued
    # row is read from the table.
    due_now = sa.case((col(Enrollment.next_attempt_at) <= now, 1), else_=0)
    scheduled = select(func.count(), func.coalesce(func.sum(due_now), 0)).select_from(Enrollment)
    scheduled = scheduled.where(col(Enrollment.status).in_(SYNC_PENDING))
    if account_id is not None:
        scheduled = scheduled.where(Enrollment.account_id == account_id)
    queued, due = session.exec(scheduled).one()
    return EngineHealth(
        last_run=last_run,
        last_heartbeat_at=heartbeat,
        last_problem=problem,
        queued=int(queued),
        due_now=int(due),
    )


# --- failures grouped by reason (B6) --------------------------------------------------------


@dataclass(frozen=True)
class ReasonGroup:
    """Enrollments sharing a status and reason, with what the reason means and what to do."""

    status: str
    reason: str | None
    count: int
    message: str
    action: str | None


def reason_groups(
    *,
    session: Session,
    account_id: int,
    statuses: tuple[str, ...] = (EnrollmentStatus.FAILED, EnrollmentStatus.RETRYING),
) -> list[ReasonGroup]:
    """Counts by (status, reason) for the given statuses, largest group first."""
    rows = session.exec(
        select(Enrollment.status, Enrollment.reason, func.count())
        .where(Enrollment.account_id == account_id, col(Enrollment.status).in_(statuses))
        .group_by(col(Enrollment.status), col(Enrollment.reason))
    ).all()
    groups = []
    for status, reason, count in rows:
        info = reason_info(reason) if reason else None
        groups.append(
            ReasonGroup(
                status=status,
                reason=reason,
                count=count,
                message=info.message if info else STATUS_LABELS.get(status, status),
                action=info.action if info else None,
            )
        )
    groups.sort(key=lambda group: (-group.count, group.status, group.reason or ""))
    return groups


# --- syncs over time (B13) ------------------------------------------------------------------


def _bucket(session: Session, column: Any, seconds: int) -> Any:
    """``column`` floored to a multiple of ``seconds`` since the epoch, as an integer, in SQL."""
    if is_sqlite(session):
        epoch = sa.cast(func.strftime("%s", column), sa.Integer)
        return (epoch // seconds) * seconds
    return sa.cast(func.floor(func.extract("epoch", column) / seconds) * seconds, sa.BigInteger)


def _int_keys(rows: Any) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for bucket, count in rows:
        if bucket is not None:
            counts[int(bucket)] += int(count)
    return counts


@dataclass(frozen=True)
class TimelinePoint:
    """One time bucket of the sync chart."""

    at: datetime
    synced: int
    failed: int


def sync_timeline(
    *, session: Session, account_id: int, since: datetime, now: datetime, bucket_seconds: int
) -> list[TimelinePoint]:
    """Enrollments synced, and attempts that failed or will retry, per time bucket since ``since``.

    Every bucket from ``since`` to ``now`` is present (zero when quiet), so the chart's axis is even.
    """
    synced_bucket = _bucket(session, Enrollment.synced_at, bucket_seconds)
    synced = _int_keys(
        session.exec(
            select(synced_bucket, func.count())
            .where(Enrollment.account_id == account_id, col(Enrollment.synced_at) >= since)
            .group_by(synced_bucket)
        ).all()
    )
    failed_bucket = _bucket(session, SyncAttempt.finished_at, bucket_seconds)
    failed = _int_keys(
        session.exec(
            select(failed_bucket, func.count())
            .where(
                SyncAttempt.account_id == account_id,
                col(SyncAttempt.finished_at) >= since,
                col(SyncAttempt.outcome).in_(("failed", "retrying", "paused")),
            )
            .group_by(failed_bucket)
        ).all()
    )
    start = int(since.timestamp()) // bucket_seconds * bucket_seconds
    end = int(now.timestamp()) // bucket_seconds * bucket_seconds
    end = max(end, *(int(k) for k in (*synced, *failed)), start)
    return [
        TimelinePoint(
            at=datetime.fromtimestamp(moment, UTC),
            synced=int(synced.get(moment, 0)),
            failed=int(failed.get(moment, 0)),
        )
        for moment in range(start, end + 1, bucket_seconds)
    ]


# --- sequences ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SequenceRow:
    """A sequence with its Syncing tab and how its enrollments stand."""

    sequence_id: int
    name: str
    disable_sync: bool
    project_id: str | None
    effective_project_id: str | None
    total: int = 0
    failed: int = 0


def sequence_overview(*, session: Session, account_id: int) -> list[SequenceRow]:
    """The account's sequences by name, with the project new contacts would join, and how many
    enrollments each holds and how many failed (the breakdown is :func:`sequence_status_counts`).

    Totals and failures are counted per sequence in the (sequence, status) index, which holds
    both: failures found through the account's status index would read each failed row for its
    sequence, and one grouped pass would read every row.
    """
    settings = session.get(AccountSettings, account_id)
    default = settings.default_project_id if settings else None

    def per_sequence(*conditions: Any) -> Any:
        return (
            select(func.count())
            .select_from(Enrollment)
            .where(col(Enrollment.sequence_id) == col(Sequence.id), *conditions)
            .correlate(Sequence)
            .scalar_subquery()
        )

    rows = []
    for sequence, total, failed in session.exec(
        select(Sequence, per_sequence(), per_sequence(Enrollment.status == EnrollmentStatus.FAILED))
        .where(Sequence.account_id == account_id)
        .order_by(col(Sequence.name))
    ).all():
        assert sequence.id is not None
        rows.append(
            SequenceRow(
                sequence_id=sequence.id,
                name=sequence.name,
                disable_sync=sequence.disable_sync,
                project_id=sequence.project_id,
                effective_project_id=sequence.project_id or default,
                total=int(total or 0),
                failed=int(failed or 0),
            )
        )
    return rows


def sequence_status_counts(*, session: Session, sequence_id: int) -> dict[str, int]:
    """One sequence's enrollments by status; every status present."""
    counts = {status.value: 0 for status in EnrollmentStatus}
    for status, count in session.exec(
        select(Enrollment.status, func.count())
        .where(Enrollment.sequence_id == sequence_id)
        .group_by(col(Enrollment.status))
    ).all():
        counts[status] = count
    return counts

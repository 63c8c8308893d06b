"""Email events of an enrollment: the R5 record, and a reply as the second trigger of SPEC R1.

Recording an event judges it by the account's connection and activity tracking *at the event's
time* (from the audit log's history), so an event recorded late is judged by its own moment; a
reply also takes R1's decision with the settings in force now. The ingest API records hundreds of
events a second through :func:`record_event`, so it reads what it needs in one Core statement.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_engine.db import clock_of
from sync_engine.models import (
    AccountSettings,
    Activity,
    ActivityKind,
    ActivityState,
    AuditEntry,
    ClockworkConnection,
    ConnectionState,
    Enrollment,
    EnrollmentStatus,
    Reason,
    SyncMode,
    table_of,
)
from sync_engine.rules import AccountSnapshot, Decision, activity_is_tracked, decide_on_reply
from sync_engine.services.accounts import get_sequence, sequence_snapshot
from sync_engine.services.errors import InvalidInputError, NotFoundError


def decision_columns(decision: Decision, now: datetime) -> dict[str, Any]:
    """An enrollment's columns for an R1 decision taken at ``now``."""
    return {
        "status": decision.status,
        "reason": decision.reason,
        "project_id": decision.project_id,
        "decided_at": now,
        "next_attempt_at": now if decision.status == EnrollmentStatus.QUEUED else None,
    }


def get_enrollment(*, session: Session, enrollment_id: int) -> Enrollment:
    """An enrollment by id."""
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFoundError(f"no enrollment {enrollment_id}")
    return enrollment


_ACTIVITIES = table_of(Activity)
_ENROLLMENT_ROWS = table_of(Enrollment)
_SETTINGS = table_of(AccountSettings)
_CONNECTIONS = table_of(ClockworkConnection)
_AUDIT = table_of(AuditEntry)


def _logged_value_after(
    entity: str, field_name: str, at: sa.ColumnElement[Any]
) -> sa.ScalarSelect[Any]:
    """The value a logged field had at ``at``: the old value of its first change after then
    (NULL with no later change: the value is still the current one)."""
    return (
        sa.select(_AUDIT.c.old_value)
        .where(
            _AUDIT.c.account_id == _ENROLLMENT_ROWS.c.account_id,
            _AUDIT.c.entity == entity,
            _AUDIT.c.field == field_name,
            _AUDIT.c.at > at,
        )
        .order_by(_AUDIT.c.at, _AUDIT.c.id)
        .limit(1)
        .scalar_subquery()
    )


def event_context_query(enrollment: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """Everything recording an event needs to know, in one statement, for the enrollment whose
    id is ``enrollment``: a bound id, or a scalar subquery of the caller's (the ingest API finds
    the enrollment by its sequence and email in the same statement). The connection and
    tracking "then" columns are NULL when nothing changed since ``:at``."""
    at = sa.bindparam("at", type_=_AUDIT.c.at.type)
    return event_context_from(_ENROLLMENT_ROWS, at).where(_ENROLLMENT_ROWS.c.id == enrollment)


def event_context_from(source: sa.FromClause, at: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """:func:`event_context_query`'s columns for each enrollment row of ``source`` (the
    enrollment table, or a join holding it), judged at ``at`` (a parameter, or a column)."""
    return sa.select(
        _ENROLLMENT_ROWS.c.id,
        _ENROLLMENT_ROWS.c.account_id,
        _ENROLLMENT_ROWS.c.status,
        _ENROLLMENT_ROWS.c.reason,
        _SETTINGS.c.account_id.label("has_settings"),
        _SETTINGS.c.sync_mode,
        _SETTINGS.c.deduplication,
        _SETTINGS.c.default_project_id,
        _SETTINGS.c.activity_tracking,
        _CONNECTIONS.c.state.label("connection_state"),
        sa.select(sa.func.min(_AUDIT.c.at))
        .where(
            _AUDIT.c.account_id == _ENROLLMENT_ROWS.c.account_id,
            _AUDIT.c.entity == "connection",
            _AUDIT.c.field == "state",
        )
        .scalar_subquery()
        .label("first_connected_at"),
        _logged_value_after("connection", "state", at).label("connection_state_then"),
        _logged_value_after("settings", "activity_tracking", at).label("tracking_then"),
    ).select_from(
        source.outerjoin(
            _SETTINGS, _SETTINGS.c.account_id == _ENROLLMENT_ROWS.c.account_id
        ).outerjoin(_CONNECTIONS, _CONNECTIONS.c.account_id == _ENROLLMENT_ROWS.c.account_id)
    )


# Built once: it runs for every event recorded (the ingest API's hot path).
_EVENT_CONTEXT = event_context_query(sa.bindparam("id"))


@dataclass(frozen=True)
class EnrollmentLookup:
    """An enrollment named another way than by its id: a statement built once with
    :func:`event_context_query`, and its parameters (``at`` is added)."""

    statement: sa.Select[Any]
    params: dict[str, Any]


@dataclass(frozen=True)
class EventContext:
    """An enrollment's account as an event at ``at`` finds it: the settings now and R5's
    verdict for that moment."""

    enrollment_id: int
    account_id: int
    status: str
    reason: str | None
    snapshot: AccountSnapshot
    untracked: Reason | None


def _event_context(
    connection: sa.Connection, enrollment: int | EnrollmentLookup, at: datetime
) -> EventContext:
    if isinstance(enrollment, EnrollmentLookup):
        row = connection.execute(enrollment.statement, {**enrollment.params, "at": at}).first()
    else:
        row = connection.execute(_EVENT_CONTEXT, {"id": enrollment, "at": at}).first()
    if row is None:
        raise NotFoundError(
            f"no enrollment {enrollment}" if isinstance(enrollment, int) else "no such enrollment"
        )
    return event_context_from_row(row, at)


def event_context_from_row(row: Any, at: datetime) -> EventContext:
    """The context of an event at ``at`` from a row of :func:`event_context_query`
    (:class:`NotFoundError` when the account has no settings)."""
    if row.has_settings is None:
        raise NotFoundError(f"no settings for account {row.account_id}")
    snapshot = AccountSnapshot(
        sync_mode=SyncMode(row.sync_mode),
        connected=row.connection_state is not None
        and row.connection_state != ConnectionState.DISCONNECTED,
        deduplication=row.deduplication,
        default_project_id=row.default_project_id,
        activity_tracking=row.activity_tracking,
    )
    return EventContext(
        enrollment_id=row.id, account_id=row.account_id, status=row.status, reason=row.reason,
        snapshot=snapshot, untracked=_untracked_reason(row, at, snapshot),
    )  # fmt: skip


def _untracked_reason(row: sa.Row[Any], at: datetime, current: AccountSnapshot) -> Reason | None:
    """R5 for an event that happened at ``at``: None if it is to be synced, else why not.

    The connection state and the tracking setting at ``at`` come from the audit log's history of
    the account, so an event recorded late (``--at`` in the past) is judged by the settings of
    its own time, and nothing from before the first connection is ever sent. The reason tells an
    activity backfill (B4) what it may send later.
    """
    first = row.first_connected_at
    if row.connection_state is None or first is None or at < first:
        return Reason.BEFORE_CONNECTION
    state = row.connection_state_then or row.connection_state
    tracking = row.tracking_then or ("on" if current.activity_tracking else "off")
    then = replace(
        current,
        connected=state in (ConnectionState.CONNECTED, ConnectionState.NEEDS_ATTENTION),
        activity_tracking=tracking == "on",
    )
    if activity_is_tracked(then):
        return None
    return Reason.NOT_CONNECTED if not then.connected else Reason.TRACKING_OFF


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An activity just recorded: its row's values (a plain record, not an ORM object)."""

    id: int
    enrollment_id: int
    account_id: int
    kind: ActivityKind
    occurred_at: datetime
    subject: str
    tracked: bool
    activity_key: str
    state: ActivityState
    reason: str | None
    attempts: int


def record_event(
    *,
    session: Session,
    enrollment_id: int | EnrollmentLookup,
    kind: ActivityKind,
    at: datetime | None,
    subject: str,
) -> RecordedEvent:
    """Record an email event; a reply is also the second trigger of R1. The enrollment is
    named by its id, or by an :class:`EnrollmentLookup` (:class:`NotFoundError` when it finds
    none, before anything is written).

    Core statements (one to read the context, one insert, one update), the ORM only for a
    reply's decision: the ingest API records hundreds of events a second through here.
    """
    if len(subject) > 500:
        raise InvalidInputError("subject is longer than 500 characters")
    now = clock_of(session)()
    at = at or now
    if at.tzinfo is None:
        raise InvalidInputError("--at needs a timezone, e.g. 2026-11-28T09:30:00Z")
    session.flush()  # the statements below go to the connection, past the session
    connection = session.connection()
    context = _event_context(connection, enrollment_id, at)
    enrollment_id = context.enrollment_id
    if at > now:
        raise InvalidInputError("an event cannot happen in the future")
    status, enrollment_reason = context.status, context.reason
    if kind == ActivityKind.REPLIED:
        enrollment = get_enrollment(session=session, enrollment_id=enrollment_id)
        _on_reply(session=session, enrollment=enrollment, snapshot=context.snapshot, now=now)
        session.flush()
        status, enrollment_reason = enrollment.status, enrollment.reason
    columns = activity_columns(context, kind, at, subject, status, enrollment_reason)
    activity_id = connection.execute(_INSERT_ACTIVITY, columns).scalar_one()
    if columns["state"] == ActivityState.PENDING:
        # The engine has a note to deliver; a synced enrollment goes back in the queue for it.
        connection.execute(REQUEUE_FOR_NOTE, {"enrollment_id": enrollment_id, "due": now})
        loaded = session.identity_map.get(session.identity_key(Enrollment, enrollment_id))
        if loaded is not None:  # the update went past the session
            session.expire(loaded, ["next_attempt_at"])
    return RecordedEvent(id=activity_id, **columns)


def activity_columns(
    context: EventContext, kind: ActivityKind, at: datetime, subject: str,
    status: str | None = None, enrollment_reason: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The row of an activity recorded in ``context`` (pending, or skipped with R5's reason or
    the skipped enrollment's); ``status`` and ``enrollment_reason`` default to the context's."""
    if status is None:
        status, enrollment_reason = context.status, context.reason
    state = ActivityState.PENDING
    reason: str | None = None
    if context.untracked is not None:
        state, reason = ActivityState.SKIPPED, context.untracked
    elif status == EnrollmentStatus.SKIPPED:
        state, reason = ActivityState.SKIPPED, enrollment_reason
    return {
        "enrollment_id": context.enrollment_id,
        "account_id": context.account_id,
        "kind": kind,
        "occurred_at": at,
        "subject": subject.strip(),
        "tracked": context.untracked is None,
        "activity_key": uuid.uuid4().hex,
        "state": state,
        "reason": reason,
        "attempts": 0,
    }


_ENGINE_OWNED = (
    EnrollmentStatus.QUEUED,
    EnrollmentStatus.RETRYING,
    EnrollmentStatus.SYNCING,
    EnrollmentStatus.SYNCED,
)
_INSERT_ACTIVITY = sa.insert(_ACTIVITIES).returning(_ACTIVITIES.c.id)
REQUEUE_FOR_NOTE = (
    sa.update(_ENROLLMENT_ROWS)
    .where(
        _ENROLLMENT_ROWS.c.id == sa.bindparam("enrollment_id"),
        # Constants, not an expanding list: that is re-rendered (and re-parsed) on every run.
        _ENROLLMENT_ROWS.c.status.in_([sa.literal(status.value) for status in _ENGINE_OWNED]),
        # A leased row matches too, to wait for the engine's lock and then see its release (an
        # unleased one cannot be claimed before our commit: the claim skips the activity's FK lock).
        sa.or_(
            _ENROLLMENT_ROWS.c.next_attempt_at.is_(None),
            _ENROLLMENT_ROWS.c.lease_owner.is_not(None),
        ),
    )
    .values(
        next_attempt_at=sa.func.coalesce(
            _ENROLLMENT_ROWS.c.next_attempt_at,
            sa.bindparam("due", type_=_ENROLLMENT_ROWS.c.next_attempt_at.type),
        )
    )
)


def _on_reply(
    *, session: Session, enrollment: Enrollment, snapshot: AccountSnapshot, now: datetime
) -> None:
    if enrollment.replied_at is None:
        enrollment.replied_at = now
    sequence = get_sequence(session=session, sequence_id=enrollment.sequence_id)
    decision = decide_on_reply(
        status=EnrollmentStatus(enrollment.status),
        reason=Reason(enrollment.reason) if enrollment.reason else None,
        account=snapshot,
        sequence=sequence_snapshot(sequence),
    )
    if decision is not None:
        for name, value in decision_columns(decision, now).items():
            setattr(enrollment, name, value)
        enrollment.dedup_at_add = enrollment.dedup_at_add or (
            snapshot.deduplication and snapshot.connected
        )
        _follow_enrollment(session=session, enrollment_id=enrollment.id, decision=decision)
    session.add(enrollment)


_REOPENABLE = (Reason.SYNC_OFF.value, Reason.NOT_CONNECTED.value)


def _follow_enrollment(*, session: Session, enrollment_id: int | None, decision: Decision) -> None:
    """Keep tracked activities in step with their enrollment after a reply's decision (R5).

    Skipped enrollment → its pending activities are skipped with the same reason; queued again →
    the activities skipped only because the enrollment was skipped become pending again.
    """
    skipping = decision.status == EnrollmentStatus.SKIPPED
    query = select(Activity).where(
        Activity.enrollment_id == enrollment_id, col(Activity.tracked).is_(True)
    )
    if skipping:
        query = query.where(Activity.state == ActivityState.PENDING)
    else:
        query = query.where(
            Activity.state == ActivityState.SKIPPED, col(Activity.reason).in_(_REOPENABLE)
        )
    for activity in session.exec(query).all():
        if skipping:
            activity.state, activity.reason = ActivityState.SKIPPED, decision.reason
        else:
            activity.state, activity.reason = ActivityState.PENDING, None
        session.add(activity)

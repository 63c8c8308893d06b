"""Activity backfill (SPEC B4): send email activity that R5 skipped because tracking was off.

Opt-in and previewed: the plan lists the activities that would be sent — recorded while the
account was connected but tracking was off, and, only when asked explicitly, those from before
the connection existed — for enrollments that have synced (or will). Applying it re-opens exactly
those activities; the engine writes each note once (its activity key), and a second run finds
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from sync_engine.audit import record_change
from sync_engine.db import clock_of
from sync_engine.models import (
    SYNC_PENDING,
    Activity,
    ActivityState,
    Contact,
    Enrollment,
    EnrollmentStatus,
    Reason,
)

_DELIVERABLE = (EnrollmentStatus.SYNCED, *SYNC_PENDING)


@dataclass(frozen=True)
class BackfillItem:
    """One activity that the backfill would send."""

    activity_id: int
    enrollment_id: int
    email: str
    kind: str
    occurred_at: datetime
    reason: str


def _backfill_where(
    query: Any,
    *,
    account_id: int,
    sequence_id: int | None,
    since: datetime | None,
    include_before_connection: bool,
) -> Any:
    reasons = [Reason.TRACKING_OFF]
    if include_before_connection:
        reasons.append(Reason.BEFORE_CONNECTION)
    query = query.join(Enrollment, col(Enrollment.id) == col(Activity.enrollment_id)).where(
        Activity.account_id == account_id,
        Activity.state == ActivityState.SKIPPED,
        col(Activity.reason).in_(reasons),
        col(Enrollment.status).in_(_DELIVERABLE),
    )
    if sequence_id is not None:
        query = query.where(Enrollment.sequence_id == sequence_id)
    if since is not None:
        query = query.where(col(Activity.occurred_at) >= since)
    return query


def count_backfill(
    *,
    session: Session,
    account_id: int,
    sequence_id: int | None = None,
    since: datetime | None = None,
    include_before_connection: bool = False,
) -> int:
    """How many activities a backfill would send (COUNT in SQL)."""
    query = _backfill_where(
        select(func.count()).select_from(Activity), account_id=account_id,
        sequence_id=sequence_id, since=since, include_before_connection=include_before_connection,
    )  # fmt: skip
    return int(session.exec(query).one())


def plan_backfill(
    *,
    session: Session,
    account_id: int,
    sequence_id: int | None = None,
    since: datetime | None = None,
    include_before_connection: bool = False,
    limit: int | None = None,
) -> list[BackfillItem]:
    """The activities a backfill would send, oldest first (the first ``limit`` for a preview)."""
    query = _backfill_where(
        select(Activity, Enrollment.id, Contact.email), account_id=account_id,
        sequence_id=sequence_id, since=since, include_before_connection=include_before_connection,
    ).join(Contact, col(Contact.id) == col(Enrollment.contact_id))  # fmt: skip
    # Sorted as an expression, so the (account, state) index finds the few skipped ones and they
    # are sorted, instead of a walk of all the account's activities in time order to skip the sort.
    oldest_first = func.coalesce(col(Activity.occurred_at), col(Activity.occurred_at))
    query = query.order_by(oldest_first, col(Activity.id)).limit(limit)
    return [
        BackfillItem(
            activity_id=activity.id or 0,
            enrollment_id=enrollment_id or 0,
            email=email,
            kind=activity.kind,
            occurred_at=activity.occurred_at,
            reason=activity.reason or "",
        )
        for activity, enrollment_id, email in session.exec(query).all()
    ]


def apply_backfill(
    *,
    session: Session,
    account_id: int,
    items: list[BackfillItem],
    actor: str,
) -> int:
    """Re-open the planned activities for delivery; returns how many were queued."""
    ids = [item.activity_id for item in items]
    if not ids:
        return 0
    now = clock_of(session)()
    reopened = session.exec(
        select(Activity).where(
            col(Activity.id).in_(ids), col(Activity.state) == ActivityState.SKIPPED
        )
    ).all()
    for activity in reopened:
        activity.state, activity.reason = ActivityState.PENDING, None
        session.add(activity)
    queued = len(reopened)
    session.execute(
        sa.update(Enrollment)
        .where(
            col(Enrollment.id).in_({item.enrollment_id for item in items}),
            col(Enrollment.next_attempt_at).is_(None),
            col(Enrollment.status) == EnrollmentStatus.SYNCED,
        )
        .values(next_attempt_at=now)
    )
    record_change(
        session=session, at=now, actor=actor, account_id=account_id, entity="account",
        entity_id=account_id, field="activity_backfill", old=None,
        new=f"{queued} activities queued",
    )  # fmt: skip
    return queued

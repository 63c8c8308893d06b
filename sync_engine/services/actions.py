"""Staff actions on enrollments (SPEC B5): retry one, retry selected, retry all failed, dismiss.

A retry puts a failed enrollment back in the queue with a fresh attempt count and reopens the
activities that failed with it; dismissing takes an enrollment out of the audit's problem list
(status *skipped: dismissed*) without touching Clockwork. Both are audited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_engine.models import Activity, ActivityState, Enrollment, EnrollmentStatus, Reason
from sync_engine.services.audit import record_change

Clock = Callable[[], datetime]

RETRYABLE = (EnrollmentStatus.FAILED,)
DISMISSABLE = (
    EnrollmentStatus.FAILED,
    EnrollmentStatus.RETRYING,
    EnrollmentStatus.QUEUED,
    EnrollmentStatus.AWAITING_REPLY,
)


def retry_enrollments(
    *, session: Session, enrollment_ids: Iterable[int], clock: Clock, actor: str
) -> int:
    """Queue the given failed enrollments again; returns how many were retried."""
    ids = list(enrollment_ids)
    if not ids:
        return 0
    rows = session.exec(
        select(Enrollment).where(col(Enrollment.id).in_(ids), col(Enrollment.status).in_(RETRYABLE))
    ).all()
    now = clock()
    for enrollment in rows:
        record_change(
            session=session, at=now, actor=actor, account_id=enrollment.account_id,
            entity="enrollment", entity_id=enrollment.id, field="status",
            old=f"{enrollment.status} ({enrollment.reason})", new="queued (retry)",
        )  # fmt: skip
        enrollment.status = EnrollmentStatus.QUEUED
        enrollment.reason = None
        enrollment.attempts = 0
        enrollment.next_attempt_at = now
        session.add(enrollment)
    session.execute(
        sa.update(Activity)
        .where(
            col(Activity.enrollment_id).in_([e.id for e in rows]),
            col(Activity.state) == ActivityState.FAILED,
        )
        .values(state=ActivityState.PENDING, reason=None, attempts=0)
    )
    return len(rows)


def retry_all_failed(*, session: Session, account_id: int, clock: Clock, actor: str) -> int:
    """Retry every failed enrollment of an account; returns how many."""
    ids = session.exec(
        select(Enrollment.id).where(
            Enrollment.account_id == account_id, Enrollment.status == EnrollmentStatus.FAILED
        )
    ).all()
    return retry_enrollments(
        session=session, enrollment_ids=[i for i in ids if i is not None], clock=clock, actor=actor
    )


def dismiss_enrollments(
    *, session: Session, enrollment_ids: Iterable[int], clock: Clock, actor: str
) -> int:
    """Mark enrollments *skipped: dismissed* (they will not sync); returns how many."""
    ids = list(enrollment_ids)
    if not ids:
        return 0
    rows = session.exec(
        select(Enrollment).where(
            col(Enrollment.id).in_(ids),
            col(Enrollment.status).in_(DISMISSABLE),
            col(Enrollment.lease_owner).is_(None),
        )
    ).all()
    now = clock()
    for enrollment in rows:
        record_change(
            session=session, at=now, actor=actor, account_id=enrollment.account_id,
            entity="enrollment", entity_id=enrollment.id, field="status",
            old=enrollment.status, new="skipped (dismissed)",
        )  # fmt: skip
        enrollment.status = EnrollmentStatus.SKIPPED
        enrollment.reason = Reason.DISMISSED
        enrollment.next_attempt_at = None
        session.add(enrollment)
    session.execute(
        sa.update(Activity)
        .where(
            col(Activity.enrollment_id).in_([e.id for e in rows]),
            col(Activity.state).in_([ActivityState.PENDING, ActivityState.FAILED]),
        )
        .values(state=ActivityState.SKIPPED, reason=Reason.DISMISSED)
    )
    return len(rows)

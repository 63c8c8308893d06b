"""Staff actions on enrollments: retry one, retry selected, retry all failed, dismiss (SPEC B5),
and resolve an ambiguous LinkedIn match (B2).

A retry puts a failed enrollment back in the queue with a fresh round of automatic attempts (the
count toward the attempt cap restarts; :func:`attempts_made` counts every attempt of every
round) and reopens the activities that failed with it; dismissing takes an enrollment out of the
audit's problem list (status *skipped: dismissed*) without touching Clockwork. All are audited.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from sync_engine.audit import record_change
from sync_engine.db import clock_of
from sync_engine.domain import CREATE_NEW_PERSON
from sync_engine.models import (
    Activity,
    ActivityState,
    Enrollment,
    EnrollmentStatus,
    Reason,
    SyncAttempt,
)
from sync_engine.services.errors import InvalidInputError, NotFoundError

RETRYABLE = (EnrollmentStatus.FAILED,)
DISMISSABLE = (
    EnrollmentStatus.FAILED,
    EnrollmentStatus.RETRYING,
    EnrollmentStatus.QUEUED,
    EnrollmentStatus.AWAITING_REPLY,
    EnrollmentStatus.NEEDS_REVIEW,
)


def retry_enrollments(*, session: Session, enrollment_ids: Iterable[int], actor: str) -> int:
    """Queue the given failed enrollments again; returns how many were retried."""
    ids = list(enrollment_ids)
    if not ids:
        return 0
    rows = session.exec(
        select(Enrollment).where(col(Enrollment.id).in_(ids), col(Enrollment.status).in_(RETRYABLE))
    ).all()
    now = clock_of(session)()
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


def attempts_made(*, session: Session, enrollment_id: int) -> int:
    """How many attempts the engine has made at an enrollment, every round counted: the attempts
    its timeline lists. (``Enrollment.attempts`` counts the current round only, toward the cap.)"""
    return session.exec(
        select(func.count())
        .select_from(SyncAttempt)
        .where(SyncAttempt.enrollment_id == enrollment_id)
    ).one()


def retry_all_failed(*, session: Session, account_id: int, actor: str) -> int:
    """Retry every failed enrollment of an account; returns how many."""
    ids = session.exec(
        select(Enrollment.id).where(
            Enrollment.account_id == account_id, Enrollment.status == EnrollmentStatus.FAILED
        )
    ).all()
    return retry_enrollments(
        session=session, enrollment_ids=[i for i in ids if i is not None], actor=actor
    )


def dismiss_enrollments(*, session: Session, enrollment_ids: Iterable[int], actor: str) -> int:
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
    now = clock_of(session)()
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


def resolve_review(
    *,
    session: Session,
    enrollment_id: int,
    person_id: str | None,
    actor: str,
) -> Enrollment:
    """B2: staff pick which Clockwork person an ambiguous LinkedIn match links to (or None: create
    a new person); the enrollment goes back in the queue with that choice."""
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFoundError(f"no enrollment {enrollment_id}")
    if enrollment.status != EnrollmentStatus.NEEDS_REVIEW:
        raise InvalidInputError(f"enrollment {enrollment_id} is not waiting for a review")
    candidates = {str(c.get("id")) for c in enrollment.review_candidates or []}
    if person_id is not None and person_id not in candidates:
        raise InvalidInputError(f"{person_id} is not one of the candidates of this enrollment")
    choice = person_id or CREATE_NEW_PERSON
    now = clock_of(session)()
    record_change(
        session=session, at=now, actor=actor, account_id=enrollment.account_id,
        entity="enrollment", entity_id=enrollment_id, field="review_choice", old=None,
        new="create a new person" if choice == CREATE_NEW_PERSON else f"link person {choice}",
    )  # fmt: skip
    enrollment.review_choice = choice
    enrollment.status = EnrollmentStatus.QUEUED
    enrollment.reason = None
    enrollment.attempts = 0
    enrollment.next_attempt_at = now
    session.add(enrollment)
    return enrollment

"""How a claimed enrollment's processing ends, each way recorded under its lease (R6, R7).

Finished (synced or its notes delivered), deferred (paced, or cut at the run's stop time: no
attempt used), paused (credentials rejected: the account needs attention, the work stays queued),
retrying (transient, with backoff honouring Retry-After, up to the attempt cap), failed (with a
readable reason), or held for staff to choose a person (B2). Each closes the sync attempt.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import select

from sync_engine.clockwork.client import JSONObject
from sync_engine.clockwork.errors import (
    ClockworkError,
    ClockworkNetworkError,
    ClockworkRateLimited,
    ClockworkTransientError,
    ClockworkUnexpectedResponse,
)
from sync_engine.connections import mark_needs_attention
from sync_engine.db import Database
from sync_engine.engine.backoff import retry_delay
from sync_engine.engine.queue import Claim, release, status_when_released
from sync_engine.engine.work import Work, close_attempt, has_pending_activities, leased
from sync_engine.models import (
    Activity,
    ActivityState,
    EnrollmentStatus,
    Reason,
)


class Outcome(StrEnum):
    """How processing one claim ended; the pass counts these."""

    SYNCED = "synced"
    DELIVERED = "delivered"  # activity notes only (the enrollment was already synced)
    RETRYING = "retrying"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"  # B2: several people share the LinkedIn URL
    DEFERRED = "deferred"  # paced out; back in the queue without using an attempt
    PAUSED = "paused"  # credentials rejected: the account needs attention
    LOST_LEASE = "lost_lease"


@dataclass
class PipelineConfig:
    """Retry policy and randomness for the pipeline."""

    max_attempts: int
    backoff_base: float
    backoff_cap: float
    rng: random.Random = field(default_factory=random.Random)


MAX_DEFER_SECONDS = 3600.0


def finish(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    clock: Callable[[], datetime],
    synced: bool,
) -> Outcome:
    now = clock()
    with leased(db, claim) as (session, enrollment):
        release(enrollment)
        # Activities recorded while we worked are delivered on the next pass.
        more = has_pending_activities(session, work.enrollment_id)
        enrollment.next_attempt_at = now if more else None
        outcome = Outcome.SYNCED if synced else Outcome.DELIVERED
        close_attempt(session, work, now, outcome, None, None)
    return outcome


def defer(
    claim: Claim, work: Work, *, db: Database, clock: Callable[[], datetime], delay: float
) -> Outcome:
    now = clock()
    with leased(db, claim) as (session, enrollment):
        if work.needs_sync:
            enrollment.attempts = max(0, enrollment.attempts - 1)
        enrollment.status = status_when_released(enrollment)
        release(enrollment)
        enrollment.next_attempt_at = now + timedelta(seconds=min(delay, MAX_DEFER_SECONDS))
        close_attempt(session, work, now, Outcome.DEFERRED, Reason.RATE_LIMITED, None)
    return Outcome.DEFERRED


def pause(
    claim: Claim, work: Work, *, db: Database, clock: Callable[[], datetime], error: ClockworkError
) -> Outcome:
    """R6: credentials rejected. The account needs attention; the work stays queued as it was."""
    now = clock()
    with leased(db, claim) as (session, enrollment):
        mark_needs_attention(session=session, account_id=work.account_id, error=error.message)
        if work.needs_sync:
            enrollment.attempts = max(0, enrollment.attempts - 1)
            enrollment.reason = Reason.AUTH_FAILED
            enrollment.last_error = error.message[:500]
        enrollment.status = status_when_released(enrollment)
        release(enrollment)
        enrollment.next_attempt_at = enrollment.next_attempt_at or now
        close_attempt(session, work, now, Outcome.PAUSED, Reason.AUTH_FAILED, error.message)
    return Outcome.PAUSED


def _transient_reason(error: Exception) -> Reason:
    if isinstance(error, ClockworkRateLimited):
        return Reason.RATE_LIMITED
    if isinstance(error, ClockworkNetworkError):
        return Reason.NETWORK_ERROR
    if isinstance(error, ClockworkTransientError):
        return Reason.CLOCKWORK_UNAVAILABLE
    if isinstance(error, ClockworkUnexpectedResponse):
        return Reason.UNEXPECTED_ANSWER
    return Reason.UNEXPECTED_ERROR


def _describe(error: Exception) -> str:
    if isinstance(error, ClockworkError):
        return str(error)
    return f"unexpected error ({type(error).__name__}: {error})"


def retry_or_fail(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    clock: Callable[[], datetime],
    config: PipelineConfig,
    error: Exception,
) -> Outcome:
    reason = _transient_reason(error)
    description = _describe(error)
    attempt = work.attempt if work.needs_sync else _activity_attempts(db, work.enrollment_id)
    if attempt >= config.max_attempts:
        message = f"gave up after {attempt} attempts: {description}"
        return fail(claim, work, db=db, clock=clock, reason=reason, message=message)
    retry_after = error.retry_after if isinstance(error, ClockworkRateLimited) else None
    delay = retry_delay(
        attempt,
        base=config.backoff_base,
        cap=config.backoff_cap,
        retry_after=retry_after,
        rng=config.rng,
    )
    now = clock()
    with leased(db, claim) as (session, enrollment):
        if work.needs_sync:
            enrollment.status = EnrollmentStatus.RETRYING
            enrollment.reason = reason
            enrollment.last_error = description[:500]
        release(enrollment)
        enrollment.next_attempt_at = now + timedelta(seconds=delay)
        close_attempt(session, work, now, Outcome.RETRYING, reason, description)
    return Outcome.RETRYING


def _activity_attempts(db: Database, enrollment_id: int) -> int:
    with db.read() as session:
        attempts = session.exec(
            select(Activity.attempts).where(
                Activity.enrollment_id == enrollment_id, Activity.state == ActivityState.PENDING
            )
        ).all()
    return max(attempts, default=0)


def fail(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    clock: Callable[[], datetime],
    reason: Reason,
    message: str,
) -> Outcome:
    now = clock()
    with leased(db, claim) as (session, enrollment):
        release(enrollment)
        enrollment.next_attempt_at = None
        pending = session.exec(
            select(Activity).where(
                Activity.enrollment_id == work.enrollment_id,
                Activity.state == ActivityState.PENDING,
            )
        ).all()
        for activity in pending:
            activity.state, activity.reason = ActivityState.FAILED, reason
            activity.last_error = message[:500]
            session.add(activity)
        if work.needs_sync:
            enrollment.status = EnrollmentStatus.FAILED
            enrollment.reason = reason
            enrollment.last_error = message[:500]
        close_attempt(session, work, now, Outcome.FAILED, reason, message)
    return Outcome.FAILED


def hold_for_review(
    claim: Claim,
    work: Work,
    *,
    db: Database,
    clock: Callable[[], datetime],
    candidates: list[JSONObject],
) -> Outcome:
    now = clock()
    with leased(db, claim) as (session, enrollment):
        release(enrollment)
        enrollment.status = EnrollmentStatus.NEEDS_REVIEW
        enrollment.reason = Reason.AMBIGUOUS_LINKEDIN_MATCH
        enrollment.next_attempt_at = None
        enrollment.review_candidates = [_candidate_summary(p) for p in candidates]
        message = f"{len(candidates)} Clockwork people share {work.linkedin_url}"
        close_attempt(
            session, work, now, Outcome.NEEDS_REVIEW, Reason.AMBIGUOUS_LINKEDIN_MATCH, message
        )
    return Outcome.NEEDS_REVIEW


def _candidate_summary(person: JSONObject) -> dict[str, object]:
    positions = person.get("positions") or []
    return {
        "id": str(person.get("id")),
        "name": person.get("name"),
        "emails": [e.get("address") for e in person.get("emails") or []],
        "linkedin_url": person.get("preferredLinkedinUrl"),
        "position": (
            f"{positions[0].get('title') or ''} at {positions[0].get('companyName') or ''}".strip()
            if positions
            else None
        ),
        "created_at": person.get("createdAt"),
    }

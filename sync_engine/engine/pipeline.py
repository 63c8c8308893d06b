"""One claimed enrollment, end to end: person (R3/R4), candidacy (R2), activity notes (R5).

HTTP calls happen outside any transaction; each result is stored in its own short transaction
before the next call, so a crash or retry resumes where it stopped instead of starting over (R8):

- one people search serves both matching (R3) and the Exists-in-Clockwork flag (R4);
- before creating a person the contact records that creation started; a search after a crash
  that finds a person created since then adopts it instead of creating a second one;
- a created person's email, position and LinkedIn URL are each flagged as attached when done,
  and a resumed creation first reads the person back to see what really got there;
- each note carries its activity key, and a retried activity looks for the key before writing.

Failures are classified by the client's error tree (R6, R7): credentials rejected pause the
account with the work still queued; transient errors back off (honouring Retry-After) up to the
attempt cap; anything else fails the enrollment with Clockwork's message.
"""

from __future__ import annotations

import html
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_engine.clockwork.client import ClockworkClient, JSONObject
from sync_engine.clockwork.errors import (
    ClockworkAuthError,
    ClockworkCancelled,
    ClockworkError,
    ClockworkNetworkError,
    ClockworkNotFound,
    ClockworkRateLimited,
    ClockworkTransientError,
    ClockworkUnexpectedResponse,
)
from sync_engine.db import Database
from sync_engine.engine.backoff import retry_delay
from sync_engine.engine.pacing import PacingDeferred
from sync_engine.engine.queue import (
    RELEASED,
    Claim,
    release,
    status_when_released,
)
from sync_engine.matching import people_with_linkedin
from sync_engine.models import (
    AccountSettings,
    Activity,
    ActivityState,
    Contact,
    Enrollment,
    EnrollmentStatus,
    LinkKind,
    MatchRule,
    Reason,
    Sequence,
    SyncAttempt,
    UTCDateTime,
    table_of,
)
from sync_engine.services.accounts import mark_needs_attention
from sync_engine.services.actions import CREATE_NEW_PERSON
from sync_engine.services.enrollments import check_email
from sync_engine.services.errors import InvalidInputError

log = logging.getLogger(__name__)

Executor = Session | sa.Connection  # a transaction: an ORM session, or a bare connection

# A person found by the search and created no earlier than this before Clockwork's own time just
# before our create call is taken to be the one we created just before a crash. Both times come
# from Clockwork's clock (its Date header, its createdAt), whole seconds each, so no shared clock
# is needed; our clock stands in only when Clockwork sent no Date.
ADOPTION_SKEW = timedelta(seconds=2)
NOTE_KEY_PREFIX = "cwsync-activity:"
MAX_DEFER_SECONDS = 3600.0


# The steps read and write with Core statements on the tables: one statement each, without the
# ORM's unit-of-work bookkeeping (that was about half of the engine's CPU per enrollment).
ENROLLMENT, CONTACT, ACTIVITY = table_of(Enrollment), table_of(Contact), table_of(Activity)
SEQUENCE, ACCOUNT_SETTINGS, SYNC_ATTEMPT = (
    table_of(Sequence),
    table_of(AccountSettings),
    table_of(SyncAttempt),
)

# What the pipeline needs about a claim, read while locking the enrollment row (built once: the
# statement's cache key is then computed once, not per enrollment).
_WORK_QUERY = (
    sa.select(
        ENROLLMENT.c.lease_owner,
        ENROLLMENT.c.account_id,
        ENROLLMENT.c.contact_id,
        ENROLLMENT.c.status,
        ENROLLMENT.c.attempts,
        ENROLLMENT.c.project_id,
        ENROLLMENT.c.dedup_at_add,
        ENROLLMENT.c.candidacy_done,
        ENROLLMENT.c.review_choice,
        CONTACT.c.email,
        CONTACT.c.first_name,
        CONTACT.c.last_name,
        CONTACT.c.title,
        CONTACT.c.company,
        CONTACT.c.linkedin_url,
        CONTACT.c.clockwork_person_id,
        CONTACT.c.person_created_by_us,
        CONTACT.c.person_created_by_enrollment_id,
        CONTACT.c.person_creation_started_at,
        CONTACT.c.email_attached,
        CONTACT.c.position_attached,
        CONTACT.c.linkedin_attached,
        SEQUENCE.c.name.label("sequence_name"),
        ACCOUNT_SETTINGS.c.link_by_linkedin,
    )
    .select_from(
        ENROLLMENT.join(CONTACT, CONTACT.c.id == ENROLLMENT.c.contact_id)
        .join(SEQUENCE, SEQUENCE.c.id == ENROLLMENT.c.sequence_id)
        .outerjoin(ACCOUNT_SETTINGS, ACCOUNT_SETTINGS.c.account_id == ENROLLMENT.c.account_id)
    )
    .where(ENROLLMENT.c.id == sa.bindparam("enrollment_id"))
    .with_for_update(of=ENROLLMENT)
)
# Renewing a lease and storing a person's steps run before every Clockwork write: built once.
_RENEW = (
    sa.update(ENROLLMENT)
    .where(
        ENROLLMENT.c.id == sa.bindparam("renewed_id"),
        ENROLLMENT.c.lease_owner == sa.bindparam("renewed_token"),
    )
    .values(lease_expires_at=sa.bindparam("renewed_until", type_=UTCDateTime))
    .returning(ENROLLMENT.c.id)
)
_STORE_STEPS = (
    sa.update(CONTACT)
    .where(CONTACT.c.id == sa.bindparam("steps_contact_id"))
    .values(
        email_attached=sa.bindparam("steps_email"),
        position_attached=sa.bindparam("steps_position"),
        linkedin_attached=sa.bindparam("steps_linkedin"),
    )
)
_PENDING_ACTIVITY = (
    sa.select(ACTIVITY.c.id)
    .where(
        ACTIVITY.c.enrollment_id == sa.bindparam("enrollment_id"),
        ACTIVITY.c.state == ActivityState.PENDING,
    )
    .limit(1)
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


@dataclass
class _Work:
    """What the pipeline needs to know about the claim, read in the opening transaction."""

    enrollment_id: int
    account_id: int
    contact_id: int
    email: str
    first_name: str
    last_name: str
    title: str
    company: str
    linkedin_url: str
    sequence_name: str
    project_id: str | None
    dedup: bool
    needs_sync: bool
    candidacy_done: bool
    attempt: int
    person_id: str | None
    created_by_us: bool
    created_by_this_enrollment: bool
    creation_started_at: datetime | None
    email_attached: bool
    position_attached: bool
    linkedin_attached: bool
    link_by_linkedin: bool = False
    review_choice: str | None = None
    match_rule: MatchRule | None = None
    attempt_row_id: int | None = None
    steps_unsaved: bool = False  # the person's step flags changed since last stored


class _LeaseLost(Exception):
    """Our lease expired and another worker owns the enrollment now."""


class _NeedsReview(Exception):
    """B2: more than one Clockwork person has the contact's LinkedIn URL; staff must choose."""

    def __init__(self, candidates: list[JSONObject]) -> None:
        super().__init__(f"{len(candidates)} people share this LinkedIn URL")
        self.candidates = candidates


class _Failure(Exception):
    """A permanent failure with its reason code and message."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def process(
    claim: Claim,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
    config: PipelineConfig,
) -> Outcome:
    """Run one claimed enrollment through the pipeline and record the outcome under the lease."""
    work = _open(claim, db=db, clock=clock)
    if work is None:
        return Outcome.LOST_LEASE
    try:
        return _run(claim, work, db=db, client=client, clock=clock, config=config)
    except _LeaseLost:
        return Outcome.LOST_LEASE


def _run(
    claim: Claim,
    work: _Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
    config: PipelineConfig,
) -> Outcome:
    """The steps, and the outcome each way they can end (recorded under the lease).

    Whatever goes wrong ends here with the attempt closed and a readable reason: an exception
    that is not Clockwork's (a bug, a malformed value) counts as an attempt like a transient
    error, its traceback in the log, so it fails at the attempt cap instead of looping.
    """
    synced = False
    if work.needs_sync and work.attempt > config.max_attempts:  # earlier attempts never closed
        message = f"gave up after {work.attempt - 1} attempts that did not finish"
        return _fail(
            claim, work, db=db, clock=clock, reason=Reason.UNEXPECTED_ERROR, message=message
        )
    try:
        if work.needs_sync:
            if _sync(claim, work, db=db, client=client, clock=clock):
                return Outcome.SYNCED  # no note to write: recorded and released already
            work.needs_sync, synced = False, True
        elif work.project_id and not work.candidacy_done and work.person_id:
            _add_to_project(
                claim, work, db=db, client=client, clock=clock
            )  # B3: re-sync to a project chosen later
        _deliver_activities(claim, work, db=db, client=client, clock=clock)
    except PacingDeferred as deferred:
        return _defer(claim, work, db=db, clock=clock, delay=deferred.delay)
    except ClockworkCancelled:  # our run's stop time, not Clockwork's failure
        return _defer(claim, work, db=db, clock=clock, delay=0.0)
    except ClockworkAuthError as exc:
        return _pause(claim, work, db=db, clock=clock, error=exc)
    except (ClockworkTransientError, ClockworkUnexpectedResponse) as exc:
        # A malformed or hostile answer may be a passing fault (a proxy's page): retried to the cap.
        return _retry_or_fail(claim, work, db=db, clock=clock, config=config, error=exc)
    except _Failure as failure:
        return _fail(claim, work, db=db, clock=clock, reason=failure.reason, message=str(failure))
    except ClockworkError as exc:
        reason = Reason.NOT_FOUND if isinstance(exc, ClockworkNotFound) else Reason.VALIDATION_ERROR
        return _fail(claim, work, db=db, clock=clock, reason=reason, message=str(exc))
    except _NeedsReview as review:
        return _hold_for_review(claim, work, db=db, clock=clock, candidates=review.candidates)
    except _LeaseLost:
        raise
    except Exception as exc:
        log.exception("enrollment %s: unexpected error in the pipeline", claim.enrollment_id)
        return _retry_or_fail(claim, work, db=db, clock=clock, config=config, error=exc)
    return _finish(claim, work, db=db, clock=clock, synced=synced)


# --- opening and closing transactions ---------------------------------------------------------


def _open(claim: Claim, *, db: Database, clock: Callable[[], datetime]) -> _Work | None:
    """Renew the lease, read what the steps need in one query and, for a sync, count the attempt.

    Three statements: the joined read that also locks the enrollment row, one update of the
    enrollment, and the new attempt row.
    """
    now = clock()
    with db.transaction() as session:
        row = session.execute(_WORK_QUERY, {"enrollment_id": claim.enrollment_id}).one_or_none()
        if row is None or row.lease_owner != claim.token:
            return None
        needs_sync = row.status == EnrollmentStatus.SYNCING
        work = _Work(
            enrollment_id=claim.enrollment_id,
            account_id=row.account_id,
            contact_id=row.contact_id,
            email=row.email,
            first_name=row.first_name,
            last_name=row.last_name,
            title=row.title,
            company=row.company,
            linkedin_url=row.linkedin_url,
            sequence_name=row.sequence_name,
            project_id=row.project_id,
            dedup=row.dedup_at_add,
            needs_sync=needs_sync,
            candidacy_done=row.candidacy_done,
            attempt=row.attempts + (1 if needs_sync else 0),
            person_id=row.clockwork_person_id,
            created_by_us=row.person_created_by_us,
            created_by_this_enrollment=row.person_created_by_enrollment_id == claim.enrollment_id,
            creation_started_at=row.person_creation_started_at,
            email_attached=row.email_attached,
            position_attached=row.position_attached,
            linkedin_attached=row.linkedin_attached,
            link_by_linkedin=bool(row.link_by_linkedin),
            review_choice=row.review_choice,
        )
        # Time spent waiting for a worker is not lost: the lease runs from now.
        changes: dict[str, object] = {
            "lease_expires_at": now + timedelta(seconds=claim.lease_seconds)
        }
        if needs_sync:
            changes.update(attempts=work.attempt, last_attempt_at=now)
        session.execute(
            sa.update(ENROLLMENT).where(ENROLLMENT.c.id == claim.enrollment_id).values(changes)
        )
        if needs_sync:
            work.attempt_row_id = session.execute(
                sa.insert(SYNC_ATTEMPT)
                .values(
                    enrollment_id=work.enrollment_id,
                    account_id=work.account_id,
                    started_at=now,
                    outcome="started",
                )
                .returning(SYNC_ATTEMPT.c.id)
            ).scalar_one()
    return work


def _close_attempt(
    session: Executor,
    work: _Work,
    now: datetime,
    outcome: Outcome,
    reason: str | None,
    error: str | None,
) -> None:
    if work.attempt_row_id is None:
        return
    session.execute(
        sa.update(SYNC_ATTEMPT)
        .where(SYNC_ATTEMPT.c.id == work.attempt_row_id)
        .values(
            finished_at=now, outcome=outcome, reason=reason, error=error[:500] if error else None
        )
    )


@contextmanager
def _leased(db: Database, claim: Claim) -> Iterator[tuple[Session, Enrollment]]:
    """A write transaction on the claimed enrollment, row-locked; :class:`_LeaseLost` if the lease
    is no longer ours (the outcome then belongs to whoever holds it)."""
    with db.write() as session:
        enrollment = _locked(session, claim)
        if enrollment is None:
            raise _LeaseLost
        yield session, enrollment
        session.add(enrollment)


def _locked(session: Session, claim: Claim) -> Enrollment | None:
    enrollment = session.get(Enrollment, claim.enrollment_id, with_for_update=True)
    if enrollment is None or enrollment.lease_owner != claim.token:
        return None
    return enrollment


def _renew(session: Executor, claim: Claim, now: datetime) -> bool:
    """Extend the lease from ``now`` if it is still ours (one UPDATE, which also locks the row).

    A lease may have expired while this worker stalled; another worker may have claimed the
    enrollment since. Renewing before a write Clockwork does not deduplicate keeps the two apart.
    """
    params = {
        "renewed_id": claim.enrollment_id,
        "renewed_token": claim.token,
        "renewed_until": now + timedelta(seconds=claim.lease_seconds),
    }
    return session.execute(_RENEW, params).scalar_one_or_none() is not None


def _has_pending_activities(session: Executor, enrollment_id: int) -> bool:
    found = session.execute(_PENDING_ACTIVITY, {"enrollment_id": enrollment_id}).first()
    return found is not None


def _finish(
    claim: Claim,
    work: _Work,
    *,
    db: Database,
    clock: Callable[[], datetime],
    synced: bool,
) -> Outcome:
    now = clock()
    with _leased(db, claim) as (session, enrollment):
        release(enrollment)
        # Activities recorded while we worked are delivered on the next pass.
        more = _has_pending_activities(session, work.enrollment_id)
        enrollment.next_attempt_at = now if more else None
        outcome = Outcome.SYNCED if synced else Outcome.DELIVERED
        _close_attempt(session, work, now, outcome, None, None)
    return outcome


def _defer(
    claim: Claim, work: _Work, *, db: Database, clock: Callable[[], datetime], delay: float
) -> Outcome:
    now = clock()
    with _leased(db, claim) as (session, enrollment):
        if work.needs_sync:
            enrollment.attempts = max(0, enrollment.attempts - 1)
        enrollment.status = status_when_released(enrollment)
        release(enrollment)
        enrollment.next_attempt_at = now + timedelta(seconds=min(delay, MAX_DEFER_SECONDS))
        _close_attempt(session, work, now, Outcome.DEFERRED, Reason.RATE_LIMITED, None)
    return Outcome.DEFERRED


def _pause(
    claim: Claim, work: _Work, *, db: Database, clock: Callable[[], datetime], error: ClockworkError
) -> Outcome:
    """R6: credentials rejected. The account needs attention; the work stays queued as it was."""
    now = clock()
    with _leased(db, claim) as (session, enrollment):
        mark_needs_attention(
            session=session, account_id=work.account_id, error=error.message, clock=clock
        )
        if work.needs_sync:
            enrollment.attempts = max(0, enrollment.attempts - 1)
            enrollment.reason = Reason.AUTH_FAILED
            enrollment.last_error = error.message[:500]
        enrollment.status = status_when_released(enrollment)
        release(enrollment)
        enrollment.next_attempt_at = enrollment.next_attempt_at or now
        _close_attempt(session, work, now, Outcome.PAUSED, Reason.AUTH_FAILED, error.message)
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


def _retry_or_fail(
    claim: Claim,
    work: _Work,
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
        return _fail(claim, work, db=db, clock=clock, reason=reason, message=message)
    retry_after = error.retry_after if isinstance(error, ClockworkRateLimited) else None
    delay = retry_delay(
        attempt,
        base=config.backoff_base,
        cap=config.backoff_cap,
        retry_after=retry_after,
        rng=config.rng,
    )
    now = clock()
    with _leased(db, claim) as (session, enrollment):
        if work.needs_sync:
            enrollment.status = EnrollmentStatus.RETRYING
            enrollment.reason = reason
            enrollment.last_error = description[:500]
        release(enrollment)
        enrollment.next_attempt_at = now + timedelta(seconds=delay)
        _close_attempt(session, work, now, Outcome.RETRYING, reason, description)
    return Outcome.RETRYING


def _activity_attempts(db: Database, enrollment_id: int) -> int:
    with db.read() as session:
        attempts = session.exec(
            select(Activity.attempts).where(
                Activity.enrollment_id == enrollment_id, Activity.state == ActivityState.PENDING
            )
        ).all()
    return max(attempts, default=0)


def _fail(
    claim: Claim,
    work: _Work,
    *,
    db: Database,
    clock: Callable[[], datetime],
    reason: Reason,
    message: str,
) -> Outcome:
    now = clock()
    with _leased(db, claim) as (session, enrollment):
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
        _close_attempt(session, work, now, Outcome.FAILED, reason, message)
    return Outcome.FAILED


# --- the person (R3, R4, R8) -------------------------------------------------------------------


def _sync(
    claim: Claim,
    work: _Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
) -> bool:
    """Link or create the person, add the candidacy, and store the result under the lease.

    Returns True when no activity note is pending: the same transaction then also released the
    lease and closed the attempt, so the enrollment is done.
    """
    try:
        check_email(work.email)
    except InvalidInputError as exc:
        raise _Failure(Reason.INVALID_EMAIL, str(exc)) from None
    link = LinkKind.LINKED
    if work.person_id is None:
        link = _find_or_create(claim, work, db=db, client=client, clock=clock)
    elif work.created_by_us:
        if work.created_by_this_enrollment:
            link = LinkKind.CREATED
        _complete_person(claim, work, db=db, client=client, clock=clock, resume=True)
    if work.project_id and not work.candidacy_done:
        assert work.person_id is not None
        _before_write(claim, work, db=db, clock=clock)
        client.add_candidacy(work.project_id, work.person_id)
        work.candidacy_done = True
    now = clock()
    with db.transaction() as session:
        if not _renew(session, claim, now):
            raise _LeaseLost
        if work.steps_unsaved:
            _store_steps(session, work)
        # With no note to write, the enrollment is done: release it in this same transaction.
        done = not _has_pending_activities(session, work.enrollment_id)
        values: dict[str, object] = {
            "clockwork_person_id": work.person_id,
            "link": link,
            "match_rule": work.match_rule if link == LinkKind.LINKED else None,
            "review_candidates": sa.null(),
            "exists_in_clockwork": work.dedup and not work.created_by_us,
            "candidacy_done": work.candidacy_done,
            "status": EnrollmentStatus.SYNCED,
            "reason": None,
            "last_error": None,
            "synced_at": now,
        }
        if done:
            values.update(RELEASED, next_attempt_at=None)
            _close_attempt(session, work, now, Outcome.SYNCED, None, None)
        session.execute(
            sa.update(ENROLLMENT).where(ENROLLMENT.c.id == work.enrollment_id).values(values)
        )
    return done


def _find_or_create(
    claim: Claim,
    work: _Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
) -> LinkKind:
    hits = client.find_people_by_email(work.email)
    adopted = _our_unrecorded_person(hits, work.creation_started_at)
    if adopted is None and work.creation_started_at is not None:
        adopted = _our_person_without_email(work, client)
    if adopted is not None:
        _store_person(claim, work, db=db, clock=clock, person_id=adopted["id"], created_by_us=True)
        _complete_person(claim, work, db=db, client=client, clock=clock, resume=True)
        return LinkKind.CREATED
    if hits:
        _store_person(claim, work, db=db, clock=clock, person_id=hits[0]["id"], created_by_us=False)
        work.match_rule = MatchRule.EMAIL
        return LinkKind.LINKED
    if work.review_choice and work.review_choice != CREATE_NEW_PERSON:
        _link_adding_email(
            claim, work, db=db, client=client, clock=clock, person_id=work.review_choice
        )
        work.match_rule = MatchRule.REVIEW
        return LinkKind.LINKED
    if work.link_by_linkedin and work.linkedin_url and work.review_choice is None:
        candidates = _people_sharing_linkedin(work, client)
        if len(candidates) > 1:
            raise _NeedsReview(candidates)
        if candidates:
            person_id = candidates[0]["id"]
            _link_adding_email(claim, work, db=db, client=client, clock=clock, person_id=person_id)
            work.match_rule = MatchRule.LINKEDIN
            return LinkKind.LINKED
    with db.transaction() as session:
        if not _renew(session, claim, clock()):  # the search above may be stale by now
            raise _LeaseLost
        # Clockwork's time of the answer just before the create, to compare with its createdAt.
        work.creation_started_at = client.server_time() or clock()
        _update_contact(session, work, person_creation_started_at=work.creation_started_at)
    first_name, last_name = _person_names(work)
    person = client.create_person(first_name=first_name, last_name=last_name)
    _store_person(claim, work, db=db, clock=clock, person_id=person["id"], created_by_us=True)
    _complete_person(claim, work, db=db, client=client, clock=clock, resume=False)
    return LinkKind.CREATED


def _people_sharing_linkedin(work: _Work, client: ClockworkClient) -> list[JSONObject]:
    """B2: people with the contact's LinkedIn URL, among those found by the contact's name.

    The contract has no search by URL, so this costs one name search (more for many pages), and
    only when the email matched nobody and the account opted in.
    """
    name = " ".join(filter(None, (work.first_name, work.last_name)))
    if not name:
        return []
    return people_with_linkedin(list(client.iter_search(name)), work.linkedin_url)


def _link_adding_email(
    claim: Claim,
    work: _Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
    person_id: str,
) -> None:
    """Link an existing person found without the email, and give it the contact's email.

    If a crash follows the new email, the next attempt's email search finds this person.
    """
    _store_person(claim, work, db=db, clock=clock, person_id=person_id, created_by_us=False)
    client.add_email(person_id, work.email)


def _add_to_project(
    claim: Claim,
    work: _Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
) -> None:
    assert work.project_id is not None and work.person_id is not None
    _before_write(claim, work, db=db, clock=clock)
    client.add_candidacy(work.project_id, work.person_id)
    work.candidacy_done = True
    with db.write() as session:
        enrollment = session.get(Enrollment, work.enrollment_id)
        assert enrollment is not None
        enrollment.candidacy_done = True
        session.add(enrollment)


def _hold_for_review(
    claim: Claim,
    work: _Work,
    *,
    db: Database,
    clock: Callable[[], datetime],
    candidates: list[JSONObject],
) -> Outcome:
    now = clock()
    with _leased(db, claim) as (session, enrollment):
        release(enrollment)
        enrollment.status = EnrollmentStatus.NEEDS_REVIEW
        enrollment.reason = Reason.AMBIGUOUS_LINKEDIN_MATCH
        enrollment.next_attempt_at = None
        enrollment.review_candidates = [_candidate_summary(p) for p in candidates]
        message = f"{len(candidates)} Clockwork people share {work.linkedin_url}"
        _close_attempt(
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


def _our_unrecorded_person(hits: list[JSONObject], started: datetime | None) -> JSONObject | None:
    """After a crash between "created" and "id stored", the search finds our own person."""
    if started is None:
        return None
    for person in hits:
        created = _created_at(person)
        if created is not None and created >= started - ADOPTION_SKEW:
            return person
    return None


def _person_names(work: _Work) -> tuple[str, str]:
    return work.first_name or work.email.split("@")[0], work.last_name


def _our_person_without_email(work: _Work, client: ClockworkClient) -> JSONObject | None:
    """A crash right after "create person" leaves a person with no email yet: find it by name.

    Only runs when a creation was started and never recorded, so it costs nothing normally.
    """
    name = " ".join(filter(None, _person_names(work)))
    for person in client.iter_search(name):
        if person.get("name") == name and not person.get("emails"):
            found = _our_unrecorded_person([person], work.creation_started_at)
            if found is not None:
                return found
    return None


def _created_at(person: JSONObject) -> datetime | None:
    value = person.get("createdAt")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _update_contact(session: Executor, work: _Work, **values: object) -> None:
    session.execute(sa.update(CONTACT).where(CONTACT.c.id == work.contact_id).values(values))


def _store_person(
    claim: Claim,
    work: _Work,
    *,
    db: Database,
    clock: Callable[[], datetime],
    person_id: str,
    created_by_us: bool,
) -> None:
    """Record the contact's person, if the lease is still ours (a worker that lost it to another
    must not overwrite what the new owner found, nor go on writing to Clockwork)."""
    values: dict[str, object] = {
        "clockwork_person_id": person_id,
        "person_created_by_us": created_by_us,
    }
    if created_by_us:
        values["person_created_by_enrollment_id"] = work.enrollment_id
    with db.transaction() as session:
        if not _renew(session, claim, clock()):
            raise _LeaseLost
        _update_contact(session, work, **values)
    work.person_id = person_id
    work.created_by_us = created_by_us
    work.created_by_this_enrollment = created_by_us


def _complete_person(
    claim: Claim,
    work: _Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
    resume: bool,
) -> None:
    """Attach email, position and LinkedIn URL to a person we created, each step stored.

    Each step is stored, and the lease renewed, before the next Clockwork write; the last one is
    left for whichever comes first of the next write (:func:`_before_write`) and the transaction
    that records the sync.
    """
    person_id = work.person_id or ""
    wants_position = bool(work.title or work.company)
    missing = (
        not work.email_attached
        or (wants_position and not work.position_attached)
        or (work.linkedin_url and not work.linkedin_attached)
    )
    if not missing:
        return
    if resume:  # a step may have reached Clockwork without being recorded: look first
        person = client.get_person(person_id)
        emails = {str(e.get("address", "")).lower() for e in person.get("emails") or []}
        work.email_attached = work.email_attached or work.email in emails
        work.position_attached = work.position_attached or bool(person.get("positions"))
        work.linkedin_attached = work.linkedin_attached or bool(person.get("linkedinUrls"))
        work.steps_unsaved = True
    if not work.email_attached:
        _before_write(claim, work, db=db, clock=clock)
        client.add_email(person_id, work.email)
        work.email_attached = work.steps_unsaved = True
    if wants_position and not work.position_attached:
        _before_write(claim, work, db=db, clock=clock)
        client.add_position(person_id, title=work.title, company_name=work.company)
        work.position_attached = work.steps_unsaved = True
    if work.linkedin_url and not work.linkedin_attached:
        _before_write(claim, work, db=db, clock=clock)
        client.add_linkedin_url(person_id, work.linkedin_url)
        work.linkedin_attached = work.steps_unsaved = True


def _before_write(
    claim: Claim, work: _Work, *, db: Database, clock: Callable[[], datetime]
) -> None:
    """Before a Clockwork write: renew the lease (:class:`_LeaseLost` if another worker has the
    enrollment now) and store the step flags that changed, in one transaction."""
    with db.transaction() as session:
        if not _renew(session, claim, clock()):
            raise _LeaseLost
        if work.steps_unsaved:
            _store_steps(session, work)


def _store_steps(session: Executor, work: _Work) -> None:
    params = {
        "steps_contact_id": work.contact_id,
        "steps_email": work.email_attached,
        "steps_position": work.position_attached,
        "steps_linkedin": work.linkedin_attached,
    }
    session.execute(_STORE_STEPS, params)
    work.steps_unsaved = False


# --- activity notes (R5, R8) -------------------------------------------------------------------


def note_html(*, kind: str, sequence: str, subject: str, occurred_at: datetime, key: str) -> str:
    """A readable note for one email event, carrying its activity key for exactly-once delivery."""
    when = occurred_at.strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"<p><strong>Email {html.escape(kind)}</strong> in sequence "
        f"<em>{html.escape(sequence)}</em></p>",
        f"<p>Subject: {html.escape(subject) if subject else '(no subject)'}</p>",
        f"<p>When: {when}</p>",
        f'<p style="color:#888;font-size:small">Clockwork Sync {NOTE_KEY_PREFIX}{key}</p>',
    ]
    return "\n".join(parts)


def _deliver_activities(
    claim: Claim,
    work: _Work,
    *,
    db: Database,
    client: ClockworkClient,
    clock: Callable[[], datetime],
) -> None:
    """Write the enrollment's pending activity notes, each once (R5), renewing the lease."""
    if work.person_id is None:
        with db.read() as session:
            contact = session.get(Contact, work.contact_id)
            work.person_id = contact.clockwork_person_id if contact else None
    if work.person_id is None:
        return
    with db.read() as session:
        pending = session.exec(
            select(Activity)
            .where(
                Activity.enrollment_id == work.enrollment_id,
                Activity.state == ActivityState.PENDING,
            )
            .order_by(col(Activity.occurred_at), col(Activity.id))
        ).all()
    for activity in pending:
        assert activity.id is not None
        with db.transaction() as session:
            if not _renew(session, claim, clock()):  # a long run of notes outlasts a lease
                raise _LeaseLost
            attempts = session.execute(
                sa.update(ACTIVITY)
                .where(ACTIVITY.c.id == activity.id, ACTIVITY.c.state == ActivityState.PENDING)
                .values(attempts=ACTIVITY.c.attempts + 1)
                .returning(ACTIVITY.c.attempts)
            ).scalar_one_or_none()
        if attempts is None:  # delivered or given up on meanwhile
            continue
        retried = attempts > 1
        note_id = _existing_note(client, work.person_id, activity.activity_key) if retried else None
        if note_id is None:
            note = client.create_note(
                work.person_id,
                content_html=note_html(
                    kind=activity.kind,
                    sequence=work.sequence_name,
                    subject=activity.subject,
                    occurred_at=activity.occurred_at,
                    key=activity.activity_key,
                ),
            )
            note_id = str(note.get("id", ""))
        with db.transaction() as session:
            session.execute(
                sa.update(ACTIVITY)
                .where(ACTIVITY.c.id == activity.id)
                .values(
                    state=ActivityState.SYNCED,
                    reason=None,
                    note_id=note_id,
                    synced_at=clock(),
                    last_error=None,
                )
            )


def _existing_note(client: ClockworkClient, person_id: str, key: str) -> str | None:
    marker = f"{NOTE_KEY_PREFIX}{key}"
    for note in client.iter_notes(person_id):
        if marker in str(note.get("content", "")):
            return str(note.get("id", ""))
    return None

"""The claimed enrollment as the pipeline sees it, and the transactions that guard it.

:func:`open_work` renews the lease, reads everything the steps need in one query and opens the
sync attempt; :func:`before_write` checks the lease before every Clockwork write, so a worker that
lost its lease to another writes nothing more (:class:`LeaseLost`): a lease this worker extended
less than half a lease ago (by the same clock the claims compare with) cannot have been claimed
since, older than that it is renewed in the store first. Every step's own transaction renews the
lease too (:func:`hold`). :func:`leased` is the locked transaction the outcomes are recorded in.
The hot path uses Core statements built once, on a bare connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from sync_engine.db import Database
from sync_engine.engine.queue import Claim
from sync_engine.engine.statements import Prepared, Transaction, transaction
from sync_engine.models import (
    SYNC_PENDING,
    AccountSettings,
    Activity,
    ActivityState,
    Contact,
    Enrollment,
    EnrollmentStatus,
    MatchRule,
    Sequence,
    SyncAttempt,
    UTCDateTime,
    table_of,
)

# A transaction: a prepared statements' one, an ORM session, or a bare connection.
Executor = Transaction | Session | sa.Connection


# The steps read and write with Core statements on the tables, without the ORM's bookkeeping.
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


# A lease extended less than this share of a lease ago needs no renewal before a write: it has
# at least the rest left, far more than clocks of engines sharing a store drift apart.
FRESH_SHARE = 0.5

_OPEN = (
    sa.update(ENROLLMENT)
    .where(ENROLLMENT.c.id == sa.bindparam("open_id"))
    .values(lease_expires_at=sa.bindparam("open_until", type_=UTCDateTime))
)
# A sync attempt starts here: the enrollment shows *syncing* from now, not from its claim (work
# claimed ahead waits in its lane still queued or retrying, as it was).
_OPEN_ATTEMPT = _OPEN.values(
    attempts=sa.bindparam("open_attempts", type_=sa.Integer),
    last_attempt_at=sa.bindparam("open_now", type_=UTCDateTime),
    status=EnrollmentStatus.SYNCING.value,
)
_NEW_ATTEMPT = (
    sa.insert(SYNC_ATTEMPT)
    .values(
        enrollment_id=sa.bindparam("attempt_enrollment", type_=sa.Integer),
        account_id=sa.bindparam("attempt_account", type_=sa.Integer),
        started_at=sa.bindparam("attempt_now", type_=UTCDateTime),
        outcome="started",
    )
    .returning(SYNC_ATTEMPT.c.id)
)
_CLOSE_ATTEMPT = (
    sa.update(SYNC_ATTEMPT)
    .where(SYNC_ATTEMPT.c.id == sa.bindparam("closed_id"))
    .values(
        finished_at=sa.bindparam("closed_at", type_=UTCDateTime),
        outcome=sa.bindparam("closed_outcome", type_=sa.String),
        reason=sa.bindparam("closed_reason", type_=sa.String),
        error=sa.bindparam("closed_error", type_=sa.String),
    )
)


# On PostgreSQL the opening is one statement run on its own (no BEGIN, no COMMIT): the update that
# checks and renews the lease and starts a sync's attempt feeds the attempt row and the read.
_WAS_PENDING = sa.or_(*(ENROLLMENT.c.status == status.value for status in SYNC_PENDING))
_OPEN_NOW = sa.bindparam("open_now", type_=UTCDateTime)
_OPENED_COLUMNS = ("account_id", "contact_id", "status", "attempts", "project_id",
                   "dedup_at_add", "candidacy_done", "review_choice")  # fmt: skip
_OPENED = (
    sa.update(ENROLLMENT)
    .where(
        ENROLLMENT.c.id == sa.bindparam("open_id"),
        ENROLLMENT.c.lease_owner == sa.bindparam("open_token"),
    )
    .values(
        lease_expires_at=sa.bindparam("open_until", type_=UTCDateTime),
        attempts=sa.case((_WAS_PENDING, ENROLLMENT.c.attempts + 1), else_=ENROLLMENT.c.attempts),
        last_attempt_at=sa.case((_WAS_PENDING, _OPEN_NOW), else_=ENROLLMENT.c.last_attempt_at),
        status=sa.case((_WAS_PENDING, EnrollmentStatus.SYNCING.value), else_=ENROLLMENT.c.status),
    )
    .returning(*(ENROLLMENT.c[name] for name in ("id", "sequence_id", *_OPENED_COLUMNS)))
    .cte("opened")
)
_STARTED = (
    sa.insert(SYNC_ATTEMPT)
    .from_select(
        ["enrollment_id", "account_id", "started_at", "outcome", "calls"],
        sa.select(
            _OPENED.c.id, _OPENED.c.account_id, _OPEN_NOW, sa.literal("started"), sa.literal(0)
        ).where(_OPENED.c.status == EnrollmentStatus.SYNCING.value),
    )
    .returning(SYNC_ATTEMPT.c.id)
    .cte("started")
)
_OPEN_WORK = sa.select(
    *(_OPENED.c[name] for name in _OPENED_COLUMNS),
    *(c for c in _WORK_QUERY.selected_columns if getattr(c, "table", None) is CONTACT),
    SEQUENCE.c.name.label("sequence_name"),
    ACCOUNT_SETTINGS.c.link_by_linkedin,
    sa.select(_STARTED.c.id).scalar_subquery().label("attempt_id"),
).select_from(
    _OPENED.join(CONTACT, CONTACT.c.id == _OPENED.c.contact_id)
    .join(SEQUENCE, SEQUENCE.c.id == _OPENED.c.sequence_id)
    .outerjoin(ACCOUNT_SETTINGS, ACCOUNT_SETTINGS.c.account_id == _OPENED.c.account_id)
)


def contact_update(*names: str) -> Prepared:
    """An UPDATE of the contact's ``names`` columns, bound as ``contact_id`` and ``set_<name>``
    (build it once, at import: a statement built per call costs more than running it)."""
    return Prepared(
        sa.update(CONTACT)
        .where(CONTACT.c.id == sa.bindparam("contact_id"))
        .values({name: sa.bindparam(f"set_{name}", type_=CONTACT.c[name].type) for name in names})
    )


_PENDING_ACTIVITY = (
    sa.select(ACTIVITY.c.id)
    .where(
        ACTIVITY.c.enrollment_id == sa.bindparam("enrollment_id"),
        ACTIVITY.c.state == ActivityState.PENDING,
    )
    .limit(1)
)

# Run straight on the transaction's connection (:mod:`.statements`).
WORK, RENEW = Prepared(_WORK_QUERY), Prepared(_RENEW)
STORE_STEPS, PENDING_ACTIVITY = Prepared(_STORE_STEPS), Prepared(_PENDING_ACTIVITY)
OPEN, OPEN_ATTEMPT = Prepared(_OPEN), Prepared(_OPEN_ATTEMPT)
NEW_ATTEMPT, CLOSE_ATTEMPT = Prepared(_NEW_ATTEMPT), Prepared(_CLOSE_ATTEMPT)
OPEN_WORK = Prepared(_OPEN_WORK)


@dataclass
class Work:
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
    renewed_at: datetime | None = None  # when this worker last extended the lease (its clock)


class LeaseLost(Exception):
    """Our lease expired and another worker owns the enrollment now."""


def open_work(claim: Claim, *, db: Database, clock: Callable[[], datetime]) -> Work | None:
    """Renew the lease, read what the steps need and, for a sync, start the attempt (the
    enrollment shows *syncing* from now, and the attempt is counted). None if the lease is gone.

    On PostgreSQL one statement (:data:`OPEN_WORK`); on SQLite three in a transaction: the joined
    read, one update of the enrollment, and the new attempt row.
    """
    now = clock()
    # Time spent waiting for a worker is not lost: the lease runs from now.
    until = now + timedelta(seconds=claim.lease_seconds)
    if not db.is_sqlite:
        params = {"open_id": claim.enrollment_id, "open_token": claim.token,
                  "open_until": until, "open_now": now}  # fmt: skip
        with transaction(db, atomic=False) as session:
            rows = OPEN_WORK.run(session, params)
        if not rows:
            return None
        row = rows[0]
        work = _work(claim, row, needs_sync=row.status == EnrollmentStatus.SYNCING)
        work.attempt, work.attempt_row_id = row.attempts, row.attempt_id
        work.renewed_at = now
        return work
    with transaction(db) as session:
        rows = WORK.run(session, {"enrollment_id": claim.enrollment_id})
        if not rows or rows[0].lease_owner != claim.token:
            return None
        row = rows[0]
        work = _work(claim, row, needs_sync=row.status in SYNC_PENDING)
        if work.needs_sync:
            work.attempt = row.attempts + 1
            params = {"open_id": claim.enrollment_id, "open_until": until,
                      "open_attempts": work.attempt, "open_now": now}  # fmt: skip
            OPEN_ATTEMPT.run(session, params)
            work.attempt_row_id = NEW_ATTEMPT.run(
                session,
                {"attempt_enrollment": work.enrollment_id, "attempt_account": work.account_id,
                 "attempt_now": now},
            )[0][0]  # fmt: skip
        else:
            OPEN.run(session, {"open_id": claim.enrollment_id, "open_until": until})
    work.renewed_at = now
    return work


def _work(claim: Claim, row: Any, *, needs_sync: bool) -> Work:
    """The claim's :class:`Work` from its opening row (either backend's)."""
    return Work(
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
        attempt=row.attempts,
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


def close_attempt(
    session: Executor,
    work: Work,
    now: datetime,
    outcome: str,
    reason: str | None,
    error: str | None,
) -> None:
    if work.steps_unsaved:  # what reached Clockwork is shown whichever way the attempt ends
        store_steps(session, work)
    if work.attempt_row_id is None:
        return
    CLOSE_ATTEMPT.run(session, close_params(work, now, outcome, reason, error))


def close_params(
    work: Work, now: datetime, outcome: str, reason: str | None, error: str | None
) -> dict[str, object]:
    """:data:`CLOSE_ATTEMPT`'s parameters."""
    return {"closed_id": work.attempt_row_id, "closed_at": now, "closed_outcome": str(outcome),
            "closed_reason": None if reason is None else str(reason),
            "closed_error": error[:500] if error else None}  # fmt: skip


@contextmanager
def leased(db: Database, claim: Claim) -> Iterator[tuple[Session, Enrollment]]:
    """A write transaction on the claimed enrollment, row-locked; :class:`LeaseLost` if the lease
    is no longer ours (the outcome then belongs to whoever holds it)."""
    with db.write() as session:
        enrollment = _locked(session, claim)
        if enrollment is None:
            raise LeaseLost
        yield session, enrollment
        session.add(enrollment)


def _locked(session: Session, claim: Claim) -> Enrollment | None:
    enrollment = session.get(Enrollment, claim.enrollment_id, with_for_update=True)
    if enrollment is None or enrollment.lease_owner != claim.token:
        return None
    return enrollment


def renew(session: Executor, claim: Claim, now: datetime) -> bool:
    """Extend the lease from ``now`` if it is still ours (one UPDATE, which also locks the row).

    A lease may have expired while this worker stalled; another worker may have claimed the
    enrollment since. Renewing before a write Clockwork does not deduplicate keeps the two apart.
    """
    params = {
        "renewed_id": claim.enrollment_id,
        "renewed_token": claim.token,
        "renewed_until": now + timedelta(seconds=claim.lease_seconds),
    }
    return bool(RENEW.run(session, params))


def has_pending_activities(session: Executor, enrollment_id: int) -> bool:
    return bool(PENDING_ACTIVITY.run(session, {"enrollment_id": enrollment_id}))


def hold(session: Executor, claim: Claim, work: Work, now: datetime) -> None:
    """Renew the lease within a step's own transaction, or raise :class:`LeaseLost`."""
    if not renew(session, claim, now):
        raise LeaseLost
    work.renewed_at = now


def _fresh(claim: Claim, work: Work, now: datetime) -> bool:
    """Whether this worker extended the lease less than ``FRESH_SHARE`` of a lease ago (by the
    clock claims compare with): then no claim can have taken it since."""
    fresh = timedelta(seconds=claim.lease_seconds * FRESH_SHARE)
    return work.renewed_at is not None and timedelta(0) <= now - work.renewed_at < fresh


def guard(session: Executor, claim: Claim, work: Work, now: datetime) -> None:
    """Within a step's transaction: go on only under our lease, renewing it unless it is fresh
    (:func:`_fresh`: known to be ours without a statement); :class:`LeaseLost` if it is gone."""
    if not _fresh(claim, work, now):
        hold(session, claim, work, now)


def before_write(claim: Claim, work: Work, *, db: Database, clock: Callable[[], datetime]) -> None:
    """Before a Clockwork write: make sure the lease is still ours (:class:`LeaseLost` if another
    worker has the enrollment now).

    A lease extended less than ``FRESH_SHARE`` of a lease ago is ours without asking the store
    (no claim takes an unexpired lease); an older one is renewed, and the step flags that
    changed are stored, in one transaction. Flags not stored yet are safe: a resumed creation
    reads the person back before its next write.
    """
    now = clock()
    if _fresh(claim, work, now):
        return
    with transaction(db) as session:
        hold(session, claim, work, now)
        if work.steps_unsaved:
            store_steps(session, work)


def store_steps(session: Executor, work: Work) -> None:
    STORE_STEPS.run(session, steps_params(work))
    work.steps_unsaved = False


def steps_params(work: Work) -> dict[str, object]:
    """:data:`STORE_STEPS`'s parameters."""
    return {
        "steps_contact_id": work.contact_id,
        "steps_email": work.email_attached,
        "steps_position": work.position_attached,
        "steps_linkedin": work.linkedin_attached,
    }

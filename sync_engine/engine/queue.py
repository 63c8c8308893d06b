"""The work queue in the store: due enrollments claimed by lease, outcomes recorded under the lease.

An enrollment is due when ``next_attempt_at`` has passed, its lease (if any) has expired, its
account is not paused and its connection is *connected* (R6: an account whose credentials were
rejected keeps its work queued). Claiming is one short transaction; on PostgreSQL it uses
``FOR UPDATE SKIP LOCKED`` so several processes share the queue, and it also locks the contacts so
two enrollments of one contact are never in flight at once (they share one Clockwork person).
Every later write checks the lease is still ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_engine.models import (
    Account,
    ClockworkConnection,
    ConnectionState,
    Contact,
    Enrollment,
    EnrollmentStatus,
    SyncAttempt,
    UTCDateTime,
    table_of,
)


@dataclass(frozen=True)
class Claim:
    """One claimed enrollment and the lease token that proves it is ours."""

    enrollment_id: int
    account_id: int
    contact_id: int
    token: str
    lease_seconds: float  # how long the lease lasts each time it is renewed


_ENROLLMENT, _CONTACT = table_of(Enrollment), table_of(Contact)
_ACCOUNT, _CONNECTION = table_of(Account), table_of(ClockworkConnection)
_SYNC_ATTEMPT = table_of(SyncAttempt)

_CLAIMABLE_ACCOUNTS = (
    sa.select(_ACCOUNT.c.id)
    .join(_CONNECTION, _CONNECTION.c.account_id == _ACCOUNT.c.id)
    .where(_ACCOUNT.c.sync_paused.is_(False), _CONNECTION.c.state == ConnectionState.CONNECTED)
)

# The claim's three statements, built once (so SQLAlchemy computes their cache keys once).
# The contacts are locked with the enrollments: a row whose enrollment or contact another
# transaction holds is skipped, and LIMIT counts only the rows locked.
_DUE = (
    _ENROLLMENT.c.next_attempt_at.is_not(None),
    _ENROLLMENT.c.next_attempt_at <= sa.bindparam("now"),
    sa.or_(
        _ENROLLMENT.c.lease_expires_at.is_(None),
        _ENROLLMENT.c.lease_expires_at < sa.bindparam("now"),
    ),
    _ENROLLMENT.c.account_id.in_(_CLAIMABLE_ACCOUNTS),
)
_CANDIDATES = (
    sa.select(_ENROLLMENT.c.id, _ENROLLMENT.c.account_id, _ENROLLMENT.c.contact_id)
    .select_from(_ENROLLMENT.join(_CONTACT, _CONTACT.c.id == _ENROLLMENT.c.contact_id))
    .where(*_DUE)
    .order_by(_ENROLLMENT.c.next_attempt_at, _ENROLLMENT.c.id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
    .with_for_update(skip_locked=True, of=[_ENROLLMENT, _CONTACT])
)
# The same, for one account: the engine fills each firm's own share of its workers.
_ACCOUNT_CANDIDATES = _CANDIDATES.where(_ENROLLMENT.c.account_id == sa.bindparam("account_id"))
_DUE_BY_ACCOUNT = (
    sa.select(_ENROLLMENT.c.account_id, sa.func.count())
    .where(*_DUE)
    .group_by(_ENROLLMENT.c.account_id)
)
# A separate statement, so that it sees leases committed up to the moment the contacts were
# locked (in the statement above, its snapshot could predate a claim that committed meanwhile).
_BUSY_CONTACTS = sa.select(_ENROLLMENT.c.contact_id).where(
    _ENROLLMENT.c.contact_id.in_(sa.bindparam("contact_ids", expanding=True)),
    _ENROLLMENT.c.lease_expires_at >= sa.bindparam("now"),
)
# The lease only: the status turns *syncing* when the attempt starts (engine/work.py), so work
# claimed ahead shows as the queued work it still is.
_LEASE = (
    sa.update(_ENROLLMENT)
    .where(_ENROLLMENT.c.id.in_(sa.bindparam("enrollment_ids", expanding=True)))
    .values(
        lease_owner=sa.bindparam("token", type_=sa.String),
        lease_expires_at=sa.bindparam("expires", type_=UTCDateTime),
    )
)


def due_by_account(*, session: Session, now: datetime) -> dict[int, int]:
    """How many enrollments each claimable account has due and unleased now."""
    return {
        account_id: count
        for account_id, count in session.execute(_DUE_BY_ACCOUNT, {"now": now}).all()
    }


def claim_due(
    *,
    session: Session | sa.Connection,
    token: str,
    now: datetime,
    lease_seconds: float,
    limit: int,
    account_id: int | None = None,
) -> list[Claim]:
    """Lease up to ``limit`` due enrollments (of ``account_id``, if given) to ``token``, at most
    one per contact."""
    if account_id is None:
        candidates = session.execute(_CANDIDATES, {"now": now, "limit": limit}).all()
    else:
        params = {"now": now, "limit": limit, "account_id": account_id}
        candidates = session.execute(_ACCOUNT_CANDIDATES, params).all()
    if not candidates:
        return []
    contact_ids = list({contact_id for _, _, contact_id in candidates})
    busy_contacts = set(
        session.execute(_BUSY_CONTACTS, {"contact_ids": contact_ids, "now": now}).scalars()
    )
    claims: list[Claim] = []
    taken: set[int] = set()
    for enrollment_id, account_id, contact_id in candidates:
        if contact_id in taken or contact_id in busy_contacts:
            continue
        taken.add(contact_id)
        claims.append(Claim(enrollment_id, account_id, contact_id, token, lease_seconds))
    if not claims:
        return []
    session.execute(
        _LEASE,
        {
            "enrollment_ids": [c.enrollment_id for c in claims],
            "token": token,
            "expires": now + timedelta(seconds=lease_seconds),
        },
    )
    return claims


def status_when_released(enrollment: Enrollment) -> EnrollmentStatus:
    """What a not-yet-synced enrollment shows while waiting in the queue again."""
    if enrollment.status != EnrollmentStatus.SYNCING:
        return EnrollmentStatus(enrollment.status)
    return EnrollmentStatus.RETRYING if enrollment.attempts else EnrollmentStatus.QUEUED


# A released lease, as column values (for a Core UPDATE of the enrollment).
RELEASED: dict[str, None] = {"lease_owner": None, "lease_expires_at": None}


def release(enrollment: Enrollment) -> None:
    """Drop the lease (the caller sets the outcome in the same transaction)."""
    for column, value in RELEASED.items():
        setattr(enrollment, column, value)


def reap_expired_leases(*, session: Session, now: datetime) -> int:
    """Return enrollments whose worker vanished to the queue, closing the attempts it left open;
    returns how many."""
    expired = session.exec(
        select(Enrollment).where(
            col(Enrollment.lease_expires_at).is_not(None), col(Enrollment.lease_expires_at) < now
        )
    ).all()
    for enrollment in expired:
        enrollment.status = status_when_released(enrollment)
        release(enrollment)
        enrollment.next_attempt_at = min(enrollment.next_attempt_at or now, now)
        session.add(enrollment)
    _close_open_attempts(
        session, [e.id for e in expired if e.id is not None], now, "its worker stopped"
    )
    return len(expired)


def release_claims(
    *, session: Session, claims: list[Claim], now: datetime, error: str | None = None
) -> int:
    """Give claimed enrollments back to the queue as they were (no attempt counted), closing any
    attempt they opened; only those whose lease is still ours. Returns how many."""
    released = 0
    for claim in claims:
        enrollment = session.get(Enrollment, claim.enrollment_id, with_for_update=True)
        if enrollment is None or enrollment.lease_owner != claim.token:
            continue
        enrollment.status = status_when_released(enrollment)
        release(enrollment)
        enrollment.next_attempt_at = min(enrollment.next_attempt_at or now, now)
        session.add(enrollment)
        _close_open_attempts(session, [claim.enrollment_id], now, error or "given back")
        released += 1
    return released


def _close_open_attempts(
    session: Session, enrollment_ids: list[int], now: datetime, error: str
) -> None:
    if not enrollment_ids:
        return
    session.execute(
        sa.update(_SYNC_ATTEMPT)
        .where(
            _SYNC_ATTEMPT.c.enrollment_id.in_(enrollment_ids),
            _SYNC_ATTEMPT.c.finished_at.is_(None),
        )
        .values(finished_at=now, outcome="abandoned", error=error[:500])
    )


def next_due_at(*, session: Session) -> datetime | None:
    """When queued work of a claimable account can next be claimed (None: nothing queued).

    Work leased by a live worker counts from its lease expiry, so an idle process neither spins
    on another's work nor forgets work whose worker died.
    """
    claimable_at = sa.case(
        (col(Enrollment.lease_expires_at).is_(None), col(Enrollment.next_attempt_at)),
        else_=sa.func.coalesce(
            sa.func.greatest(col(Enrollment.next_attempt_at), col(Enrollment.lease_expires_at))
            if session.get_bind().dialect.name == "postgresql"
            else sa.func.max(col(Enrollment.next_attempt_at), col(Enrollment.lease_expires_at)),
            col(Enrollment.next_attempt_at),
        ),
    )
    return session.exec(
        select(sa.type_coerce(sa.func.min(claimable_at), UTCDateTime)).where(
            col(Enrollment.next_attempt_at).is_not(None),
            col(Enrollment.account_id).in_(_CLAIMABLE_ACCOUNTS),
        )
    ).one()


def remaining_work(*, session: Session) -> int:
    """Enrollments of claimable accounts still waiting to sync or to deliver notes."""
    return session.execute(
        sa.select(sa.func.count()).where(
            _ENROLLMENT.c.next_attempt_at.is_not(None),
            _ENROLLMENT.c.account_id.in_(_CLAIMABLE_ACCOUNTS),
        )
    ).scalar_one()

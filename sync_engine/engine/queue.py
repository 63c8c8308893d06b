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
    UTCDateTime,
)

_SYNC_PENDING = (EnrollmentStatus.QUEUED, EnrollmentStatus.RETRYING, EnrollmentStatus.SYNCING)


@dataclass(frozen=True)
class Claim:
    """One claimed enrollment and the lease token that proves it is ours."""

    enrollment_id: int
    account_id: int
    contact_id: int
    token: str
    lease_seconds: float | None = None  # how long the lease lasts each time it is renewed


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(Enrollment.next_attempt_at).is_not(None),
        col(Enrollment.next_attempt_at) <= now,
        sa.or_(col(Enrollment.lease_expires_at).is_(None), col(Enrollment.lease_expires_at) < now),
    )


def _claimable_accounts() -> sa.Select[tuple[int | None]]:
    return (
        sa.select(col(Account.id))
        .join(ClockworkConnection, col(ClockworkConnection.account_id) == col(Account.id))
        .where(
            col(Account.sync_paused).is_(False),
            col(ClockworkConnection.state) == ConnectionState.CONNECTED,
        )
    )


def claim_due(
    *, session: Session, token: str, now: datetime, lease_seconds: float, limit: int
) -> list[Claim]:
    """Lease up to ``limit`` due enrollments to ``token`` (at most one per contact)."""
    candidates = session.exec(
        select(Enrollment.id, Enrollment.account_id, Enrollment.contact_id)
        .where(_due(now), col(Enrollment.account_id).in_(_claimable_accounts()))
        .order_by(col(Enrollment.next_attempt_at), col(Enrollment.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=Enrollment)
    ).all()
    if not candidates:
        return []
    contact_ids = {contact_id for _, _, contact_id in candidates}
    locked_contacts = set(
        session.exec(
            select(Contact.id)
            .where(col(Contact.id).in_(contact_ids))
            .with_for_update(skip_locked=True)
        ).all()
    )
    busy_contacts = set(
        session.exec(
            select(Enrollment.contact_id).where(
                col(Enrollment.contact_id).in_(contact_ids),
                col(Enrollment.lease_expires_at) >= now,
            )
        ).all()
    )
    claims: list[Claim] = []
    taken: set[int] = set()
    for enrollment_id, account_id, contact_id in candidates:
        if contact_id in taken or contact_id in busy_contacts or contact_id not in locked_contacts:
            continue
        taken.add(contact_id)
        assert enrollment_id is not None
        claims.append(Claim(enrollment_id, account_id, contact_id, token, lease_seconds))
    if not claims:
        return []
    expires = now + timedelta(seconds=lease_seconds)
    session.execute(
        sa.update(Enrollment)
        .where(col(Enrollment.id).in_([c.enrollment_id for c in claims]))
        .values(lease_owner=token, lease_expires_at=expires)
    )
    session.execute(
        sa.update(Enrollment)
        .where(
            col(Enrollment.id).in_([c.enrollment_id for c in claims]),
            col(Enrollment.status).in_(_SYNC_PENDING),
        )
        .values(status=EnrollmentStatus.SYNCING)
    )
    return claims


def load_leased(*, session: Session, claim: Claim) -> Enrollment | None:
    """The enrollment if the lease is still ours (an expired, re-claimed lease returns None)."""
    enrollment = session.get(Enrollment, claim.enrollment_id)
    if enrollment is None or enrollment.lease_owner != claim.token:
        return None
    return enrollment


def status_when_released(enrollment: Enrollment) -> EnrollmentStatus:
    """What a not-yet-synced enrollment shows while waiting in the queue again."""
    if enrollment.status != EnrollmentStatus.SYNCING:
        return EnrollmentStatus(enrollment.status)
    return EnrollmentStatus.RETRYING if enrollment.attempts else EnrollmentStatus.QUEUED


def release(enrollment: Enrollment) -> None:
    """Drop the lease (the caller sets the outcome in the same transaction)."""
    enrollment.lease_owner = None
    enrollment.lease_expires_at = None


def reap_expired_leases(*, session: Session, now: datetime) -> int:
    """Return enrollments whose worker vanished to the queue; returns how many."""
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
    return len(expired)


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
            col(Enrollment.account_id).in_(_claimable_accounts()),
        )
    ).one()

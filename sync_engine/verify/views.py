"""What the dashboard shows of verification: the newest run of an account and its findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from sync_engine.models import Contact
from sync_engine.verify.models import CheckStatus, ContactCheck, VerifyRun, VerifyState


def latest_run(*, session: Session, account_id: int) -> VerifyRun | None:
    """The account's newest verification, whatever its state."""
    return session.exec(
        select(VerifyRun)
        .where(VerifyRun.account_id == account_id)
        .order_by(col(VerifyRun.id).desc())
        .limit(1)
    ).first()


def last_verified_at(*, session: Session, account_id: int) -> datetime | None:
    """When the account's newest finished verification ended (None: never verified)."""
    return session.exec(
        select(func.max(VerifyRun.finished_at))
        .where(VerifyRun.account_id == account_id)
        .where(VerifyRun.state == VerifyState.DONE)
    ).one()


@dataclass(frozen=True)
class FindingRow:
    """One drifted contact as the page lists it."""

    contact_id: int
    email: str
    reason: str
    checked_at: datetime


def count_drifted(*, session: Session, account_id: int) -> int:
    """How many of the account's contacts are drifted now."""
    return session.exec(
        select(func.count())
        .select_from(ContactCheck)
        .where(ContactCheck.account_id == account_id, ContactCheck.status == CheckStatus.DRIFTED)
    ).one()


def drifted(
    *, session: Session, account_id: int, limit: int = 50, offset: int = 0
) -> list[FindingRow]:
    """The account's drifted contacts with the reason, by email."""
    rows = session.exec(
        select(ContactCheck, Contact.email)
        .join(Contact, col(Contact.id) == col(ContactCheck.contact_id))
        .where(ContactCheck.account_id == account_id, ContactCheck.status == CheckStatus.DRIFTED)
        .order_by(col(Contact.email))
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        FindingRow(check.contact_id, email, check.reason or "", check.checked_at)
        for check, email in rows
    ]

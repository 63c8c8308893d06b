"""Contacts and enrollments: the *add* trigger of SPEC R1, one contact or a CSV import.

Adding a contact to a sequence takes the settings in force at that moment, asks
:mod:`sync_engine.rules` for the decision and stores it with the enrollment, where later setting
changes never reach it. Email events and the reply trigger are :mod:`sync_engine.services.events`;
reading the CSV file is :mod:`sync_engine.services.contacts_csv`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from sync_engine import domain
from sync_engine.db import clock_of
from sync_engine.matching import normalize_linkedin_url
from sync_engine.models import (
    Contact,
    Enrollment,
    Sequence,
)
from sync_engine.rules import (
    AccountSnapshot,
    Decision,
    decide_on_add,
)
from sync_engine.services.accounts import (
    account_snapshot,
    get_sequence,
    sequence_snapshot,
)
from sync_engine.services.contacts_csv import Row, UnreadableLine
from sync_engine.services.errors import InvalidInputError, invalid_input
from sync_engine.services.events import decision_columns

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
IMPORT_BATCH = 500


def check_email(raw: str) -> str:
    """The normalised email, or :class:`InvalidInputError` saying what is wrong with it."""
    try:
        return domain.check_email(raw)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None


class ContactInput(BaseModel):
    """One contact as typed or imported: the email is normalised, the other fields trimmed."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    email: str = Field(max_length=320)
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    title: str = Field(default="", max_length=300)
    company: str = Field(default="", max_length=300)
    linkedin_url: str = Field(default="", max_length=500)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        try:
            return check_email(value)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("linkedin_url")
    @classmethod
    def _linkedin(cls, value: str) -> str:
        if not value:
            return value
        url = value if "://" in value else f"https://{value}"
        if not url.lower().startswith(("https://", "http://")):
            raise ValueError("the LinkedIn URL must be a web address (https://…)")
        if not normalize_linkedin_url(url).startswith("linkedin.com/"):
            raise ValueError("the LinkedIn URL must be a linkedin.com address")
        return url

    @field_validator("first_name", "last_name", "title", "company", "linkedin_url", "email")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError(
                "contains a line break or control character (in a CSV: an unclosed quote?)"
            )
        return value


def parse_contact(fields: dict[str, Any]) -> ContactInput:
    """Validate a contact's fields, raising :class:`InvalidInputError` with the first problem."""
    try:
        return ContactInput(**{k: ("" if v is None else v) for k, v in fields.items()})
    except ValidationError as exc:
        raise invalid_input(exc) from None


def add_contact(*, session: Session, sequence_id: int, contact: ContactInput) -> Enrollment:
    """Enroll a contact in a sequence: the *add* trigger of R1, decided and stored now."""
    sequence, snapshot, decision = _decide_add(session, sequence_id)
    return _enroll(
        session=session,
        sequence_id=sequence_id,
        account_id=sequence.account_id,
        contact=contact,
        decision=decision,
        snapshot=snapshot,
        disable_sync=sequence.disable_sync,
        now=clock_of(session)(),
    )


def _decide_add(session: Session, sequence_id: int) -> tuple[Sequence, AccountSnapshot, Decision]:
    """The sequence, its account's settings now, and R1's decision for a contact added now."""
    sequence = get_sequence(session=session, sequence_id=sequence_id)
    snapshot = account_snapshot(session=session, account_id=sequence.account_id)
    return sequence, snapshot, decide_on_add(snapshot, sequence_snapshot(sequence))


def _enroll(
    *,
    session: Session,
    sequence_id: int,
    account_id: int,
    contact: ContactInput,
    decision: Decision,
    snapshot: AccountSnapshot,
    disable_sync: bool,
    now: datetime,
) -> Enrollment:
    row = session.exec(
        select(Contact).where(Contact.account_id == account_id, Contact.email == contact.email)
    ).first()
    if row is None:
        row = Contact(account_id=account_id, created_at=now, **contact.model_dump())
        session.add(row)
        session.flush()
    else:
        for name, value in _blanks_filled(row, contact).items():
            setattr(row, name, value)
        session.add(row)
        existing = session.exec(
            select(Enrollment.id).where(
                Enrollment.sequence_id == sequence_id, Enrollment.contact_id == row.id
            )
        ).first()
        if existing is not None:
            raise InvalidInputError(f"{contact.email} is already in this sequence")
    assert row.id is not None
    enrollment = Enrollment(
        **_enrollment_columns(
            account_id=account_id, sequence_id=sequence_id, contact_id=row.id,
            person_id=row.clockwork_person_id, decision=decision, snapshot=snapshot,
            disable_sync=disable_sync, now=now,
        )
    )  # fmt: skip
    session.add(enrollment)
    session.flush()
    return enrollment


def _blanks_filled(row: Contact, given: ContactInput) -> dict[str, str]:
    """The fields ``given`` fills that the stored contact has empty (nothing is overwritten)."""
    return {
        name: value
        for name, value in given.model_dump(exclude={"email"}).items()
        if value and not getattr(row, name)
    }


def _enrollment_columns(
    *,
    account_id: int,
    sequence_id: int,
    contact_id: int,
    person_id: str | None,
    decision: Decision,
    snapshot: AccountSnapshot,
    disable_sync: bool,
    now: datetime,
) -> dict[str, Any]:
    """A new enrollment's columns: the contact, the R1 snapshot at add and the decision."""
    return {
        "account_id": account_id,
        "sequence_id": sequence_id,
        "contact_id": contact_id,
        "added_at": now,
        "sync_mode_at_add": snapshot.sync_mode,
        "disable_sync_at_add": disable_sync,
        "connected_at_add": snapshot.connected,
        "dedup_at_add": snapshot.deduplication and snapshot.connected,
        "action_at_add": decision.action,
        "reason_at_add": decision.reason,
        "clockwork_person_id": person_id,
        **decision_columns(decision, now),
    }


@dataclass
class ImportReport:
    """What a CSV import did: rows imported, and each rejected row with its line and reason.

    No id per imported row: the report of a million-row file stays small.
    """

    imported: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Rows read (imported + rejected)."""
        return self.imported + len(self.rejected)

    def merge(self, other: ImportReport) -> None:
        """Add another part of the same import."""
        self.imported += other.imported
        self.rejected += other.rejected


def import_contacts(
    *,
    session_factory: Callable[[], Any],
    sequence_id: int,
    rows: Iterable[tuple[int, Row]],
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate every row, import the good ones in batches, report the bad ones by line.

    ``session_factory`` opens a write transaction (``Database.write``); each batch commits on its
    own so a large file holds no lock for long and a failure loses at most one batch.
    """
    report = ImportReport()
    batch: list[tuple[int, Row]] = []

    def flush() -> None:
        # Each attempt reports into its own ImportReport, merged once its transaction commits:
        # a batch redone row by row must not report its bad rows twice.
        part = ImportReport()
        try:
            with session_factory() as session:
                _import_batch(session, sequence_id, batch, clock_of(session)(), part)
        except sa.exc.IntegrityError:  # a contact added concurrently: redo this batch row by row
            part = ImportReport()
            with session_factory() as session:
                _import_rows(session, sequence_id, batch, clock_of(session)(), part)
        report.merge(part)
        if on_progress:
            on_progress(len(batch))
        batch.clear()

    with session_factory() as session:
        get_sequence(session=session, sequence_id=sequence_id)
    for item in rows:
        batch.append(item)
        if len(batch) >= IMPORT_BATCH:
            flush()
    if batch:
        flush()
    report.rejected.sort()
    return report


def _parse_rows(
    rows: list[tuple[int, Row]], report: ImportReport
) -> list[tuple[int, ContactInput]]:
    parsed = []
    for line, row in rows:
        if isinstance(row, UnreadableLine):
            report.rejected.append((line, row.reason))
            continue
        try:
            parsed.append((line, parse_contact(row)))
        except InvalidInputError as exc:
            report.rejected.append((line, str(exc)))
    return parsed


def _import_batch(
    session: Session,
    sequence_id: int,
    rows: list[tuple[int, Row]],
    now: datetime,
    report: ImportReport,
) -> None:
    """Enroll a batch with a handful of set-based statements (not a few queries per row)."""
    sequence, snapshot, decision = _decide_add(session, sequence_id)
    account_id = sequence.account_id
    parsed = _parse_rows(rows, report)
    emails = {contact.email for _, contact in parsed}
    contacts = {
        row.email: row
        for row in session.exec(
            select(Contact).where(Contact.account_id == account_id, col(Contact.email).in_(emails))
        ).all()
    }
    enrolled = set(
        session.exec(
            select(Enrollment.contact_id).where(
                Enrollment.sequence_id == sequence_id,
                col(Enrollment.contact_id).in_([c.id for c in contacts.values()]),
            )
        ).all()
    )
    seen: set[str] = set()
    fresh: list[dict[str, Any]] = []
    filled: list[dict[str, Any]] = []
    for line, given in parsed:
        row = contacts.get(given.email)
        if given.email in seen or (row is not None and row.id in enrolled):
            report.rejected.append((line, f"{given.email} is already in this sequence"))
            continue
        seen.add(given.email)
        if row is None:
            fresh.append({"account_id": account_id, "created_at": now, **given.model_dump()})
            continue
        blanks = _blanks_filled(row, given)
        if blanks:
            filled.append({"contact_id": row.id, **blanks})
    # Core statements: building ORM objects would cost more than the inserts themselves.
    if fresh:
        session.execute(sa.insert(Contact), fresh)
    for change in filled:
        contact_id = change.pop("contact_id")
        session.execute(sa.update(Contact).where(col(Contact.id) == contact_id).values(**change))
    ids: dict[str, int] = {
        email: contact_id
        for email, contact_id in session.exec(
            select(Contact.email, Contact.id).where(
                Contact.account_id == account_id, col(Contact.email).in_(seen)
            )
        ).all()
        if contact_id is not None
    }
    person_ids = {email: row.clockwork_person_id for email, row in contacts.items()}
    enrollments = [
        _enrollment_columns(
            account_id=account_id,
            sequence_id=sequence_id,
            contact_id=ids[email],
            person_id=person_ids.get(email),
            decision=decision,
            snapshot=snapshot,
            disable_sync=sequence.disable_sync,
            now=now,
        )
        for email in seen
    ]
    if enrollments:
        session.execute(sa.insert(Enrollment), enrollments)
    report.imported += len(enrollments)


def _import_rows(
    session: Session,
    sequence_id: int,
    rows: list[tuple[int, Row]],
    now: datetime,
    report: ImportReport,
) -> None:
    """The slow path, one savepoint per row, for a batch that raced with another writer."""
    sequence, snapshot, decision = _decide_add(session, sequence_id)
    for line, contact in _parse_rows(rows, report):
        try:
            with session.begin_nested():
                _enroll(
                    session=session, sequence_id=sequence_id, account_id=sequence.account_id,
                    contact=contact, decision=decision, snapshot=snapshot,
                    disable_sync=sequence.disable_sync, now=now,
                )  # fmt: skip
        except (InvalidInputError, sa.exc.IntegrityError) as exc:
            report.rejected.append((line, str(exc).splitlines()[0]))
            continue
        report.imported += 1


__all__ = [
    "ContactInput",
    "ImportReport",
    "add_contact",
    "check_email",
    "import_contacts",
    "parse_contact",
]

"""Fix the contact, then Retry: which of a contact's fields Clockwork refused, and an admin's
correction of the contact's data, validated like an import row and audited field by field.

Clockwork's API has no route that updates a person, so a correction reaches Clockwork only for
what has not been sent there yet: a retry resumes the person where it stopped (a LinkedIn URL
refused at ``/people/{id}/linkedin_urls`` is sent again, corrected), and a contact with no person
yet is searched and created with the corrected data. :attr:`ContactForCorrection.sent` says which
fields are already in Clockwork, to be corrected there by hand if they were wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from sync_engine.audit import record_change
from sync_engine.db import clock_of
from sync_engine.models import Contact, Enrollment, Reason
from sync_engine.services.contacts_csv import CSV_COLUMNS
from sync_engine.services.enrollments import parse_contact
from sync_engine.services.errors import InvalidInputError, NotFoundError

CONTACT_FIELDS: tuple[str, ...] = CSV_COLUMNS
FIELD_LABELS = {
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "title": "Title",
    "company": "Company",
    "linkedin_url": "LinkedIn URL",
}

# The contact fields each Clockwork write carries, by the request as a stored error names it.
_REQUEST_FIELDS: dict[str, tuple[str, ...]] = {
    "POST /people": ("first_name", "last_name"),
    "POST /people/{id}/email_addresses": ("email",),
    "POST /people/{id}/positions": ("title", "company"),
    "POST /people/{id}/linkedin_urls": ("linkedin_url",),
}
# Clockwork's names for request fields in its 422 answers ("url is not a LinkedIn URL").
_CLOCKWORK_FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("first_name", "last_name"),
    "firstName": ("first_name",),
    "lastName": ("last_name",),
    "address": ("email",),
    "title": ("title",),
    "companyName": ("company",),
    "url": ("linkedin_url",),
}
# How the engine stores a Clockwork error: "POST /people/{id}/linkedin_urls -> HTTP 422: ...".
_STORED_ERROR = re.compile(r"(?P<request>[A-Z]+ \S+) -> HTTP \d+: (?P<message>.*)", re.DOTALL)
_VALIDATION_PREFIX = "Validation failed: "


@dataclass(frozen=True)
class RefusedField:
    """What was refused in the contact's data: the fields to correct, and why."""

    fields: tuple[str, ...]
    message: str

    @property
    def labels(self) -> str:
        """The fields in words: "LinkedIn URL", "Title or Company"."""
        return " or ".join(FIELD_LABELS[name] for name in self.fields)


def refused_field(*, reason: str | None, last_error: str | None) -> RefusedField | None:
    """The contact's field an enrollment failed on, from its stored reason and error; None when
    the failure is not about the contact's data (or names no field of it)."""
    if reason == Reason.INVALID_EMAIL:
        return RefusedField(("email",), last_error or "the email address is not valid")
    if reason != Reason.VALIDATION_ERROR or not last_error:
        return None
    stored = _STORED_ERROR.fullmatch(last_error.strip())
    if stored is None:
        return None
    fields = _REQUEST_FIELDS.get(stored["request"])
    if fields is None:  # a candidacy or a note: not the contact's data
        return None
    message = stored["message"].removeprefix(_VALIDATION_PREFIX)
    named = _CLOCKWORK_FIELDS.get(message.split(" ", 1)[0], ())
    if named and set(named) <= set(fields):
        fields = named
    return RefusedField(fields, message)


@dataclass(frozen=True)
class ContactForCorrection:
    """A contact as the correction form shows it."""

    contact_id: int
    values: dict[str, str]
    refused: RefusedField | None
    sent: tuple[str, ...]  # fields already in Clockwork: a correction does not reach them
    enrollments: int  # sequences the contact is in: a correction applies to each


def contact_for_correction(*, session: Session, enrollment_id: int) -> ContactForCorrection:
    """The contact of an enrollment, what was refused, and which fields Clockwork already has."""
    enrollment, contact = _enrollment_and_contact(session, enrollment_id)
    assert contact.id is not None
    enrollments = session.exec(
        select(func.count()).select_from(Enrollment).where(Enrollment.contact_id == contact.id)
    ).one()
    return ContactForCorrection(
        contact_id=contact.id,
        values={name: str(getattr(contact, name)) for name in CONTACT_FIELDS},
        refused=refused_field(reason=enrollment.reason, last_error=enrollment.last_error),
        sent=_sent_to_clockwork(contact),
        enrollments=enrollments,
    )


def _sent_to_clockwork(contact: Contact) -> tuple[str, ...]:
    """The fields a retry will not send again: those of a person already created with them, and
    all of them for a person the contact was linked to (the engine sends a linked person none)."""
    if contact.clockwork_person_id is None:
        return ()
    if not contact.person_created_by_us:
        return CONTACT_FIELDS
    steps = {
        "email": contact.email_attached,
        "first_name": True,  # the person was created with the name
        "last_name": True,
        "title": contact.position_attached,
        "company": contact.position_attached,
        "linkedin_url": contact.linkedin_attached,
    }
    return tuple(name for name in CONTACT_FIELDS if steps[name])


def correct_contact(
    *,
    session: Session,
    enrollment_id: int,
    fields: Mapping[str, str],
    actor: str,
) -> dict[str, tuple[str, str]]:
    """Correct the data of an enrollment's contact; returns each changed field's (old, new).

    The contact is validated as a whole, like a row of an import (the email normalised, a
    LinkedIn URL given its scheme). A new email must not belong to another contact of the
    account. Nothing changes while one of the contact's enrollments is being synced. Each changed
    field is audited (entity ``contact``); the enrollment's status is left as it is (Retry is the
    staff's next step).
    """
    unknown = sorted(set(fields) - set(CONTACT_FIELDS))
    if unknown:
        raise InvalidInputError(f"not a field of a contact: {', '.join(unknown)}")
    _, contact = _enrollment_and_contact(session, enrollment_id)
    current = {name: str(getattr(contact, name)) for name in CONTACT_FIELDS}
    wanted = _validated({**current, **fields})
    changes = {
        name: (current[name], wanted[name])
        for name in CONTACT_FIELDS
        if wanted[name] != current[name]
    }
    if not changes:
        return {}
    syncing = session.exec(
        select(Enrollment.id).where(
            Enrollment.contact_id == contact.id, col(Enrollment.lease_owner).is_not(None)
        )
    ).first()
    if syncing is not None:
        raise InvalidInputError("this contact is being synced right now; try again in a moment")
    if "email" in changes:
        _check_email_is_free(session, contact, changes["email"][1])
    now = clock_of(session)()
    for name, (old, new) in changes.items():
        record_change(
            session=session, at=now, actor=actor, account_id=contact.account_id,
            entity="contact", entity_id=contact.id, field=name, old=old, new=new,
        )  # fmt: skip
        setattr(contact, name, new)
    session.add(contact)
    return changes


def _validated(values: dict[str, str]) -> dict[str, str]:
    """The contact's values as an import row would be stored; a problem names the field as the
    form labels it ("LinkedIn URL: ...")."""
    try:
        return {name: str(value) for name, value in parse_contact(values).model_dump().items()}
    except InvalidInputError as exc:
        name, colon, problem = str(exc).partition(": ")
        if colon and name in FIELD_LABELS:
            raise InvalidInputError(f"{FIELD_LABELS[name]}: {problem}") from None
        raise


def _check_email_is_free(session: Session, contact: Contact, email: str) -> None:
    other = session.exec(
        select(Contact.id).where(
            Contact.account_id == contact.account_id,
            Contact.email == email,
            Contact.id != contact.id,
        )
    ).first()
    if other is not None:
        raise InvalidInputError(
            f"Email: another contact of this account already has {email} (contacts are "
            "identified by their email)"
        )


def _enrollment_and_contact(session: Session, enrollment_id: int) -> tuple[Enrollment, Contact]:
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        raise NotFoundError(f"no enrollment {enrollment_id}")
    contact = session.get(Contact, enrollment.contact_id)
    if contact is None:  # pragma: no cover - a foreign key keeps it
        raise NotFoundError(f"no contact for enrollment {enrollment_id}")
    return enrollment, contact

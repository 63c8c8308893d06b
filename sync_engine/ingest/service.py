"""What an ingest delivery does to the store, through the existing services.

Sequences are created and changed with :mod:`sync_engine.services.accounts`, contacts enrolled
with :func:`enrollments.import_contacts` (the CSV import's validation and add-time decision, the
same as the CLI's), events recorded with :func:`events.record_event`. This module adds only
what an API needs around them: the platform's sequence reference, the enrollment found by
sequence and email, and per-item results; the delivery record that makes a retry idempotent is
:mod:`sync_engine.ingest.delivery_log`. Every function works inside the caller's transaction
(``session``), so the delivery record and its effects commit together or not at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from sync_engine.ingest.adapters import PlatformEvent
from sync_engine.ingest.delivery_log import bare_connection
from sync_engine.ingest.models import IngestSequenceRef
from sync_engine.matching import normalize_email
from sync_engine.models import (
    Activity,
    ActivityKind,
    ActivityState,
    Contact,
    Enrollment,
    Sequence,
    table_of,
)
from sync_engine.services import accounts, contacts_csv, enrollments
from sync_engine.services.errors import InvalidInputError, NotFoundError
from sync_engine.services.events import (
    EnrollmentLookup,
    RecordedEvent,
    event_context_query,
    record_event,
)
from sync_engine.services.queries.reason_texts import reason_message

Clock = Callable[[], datetime]

MAX_BATCH = 1000
# A platform's clock a little ahead of ours: an event "in the future" by up to this much is
# taken as happening now; further ahead it is refused (the services refuse future events).
CLOCK_SKEW = timedelta(minutes=5)


# --- request bodies ---------------------------------------------------------------------------


class SequenceIn(BaseModel):
    """A sequence as the platform describes it: name and Syncing tab."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    disable_sync: bool = False
    project_id: str | None = Field(default=None, max_length=64)


class ContactIn(BaseModel):
    """One contact to add (validated further by the enrollment service)."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    first_name: str = Field(default="", max_length=200)
    last_name: str = Field(default="", max_length=200)
    title: str = Field(default="", max_length=300)
    company: str = Field(default="", max_length=300)
    linkedin_url: str = Field(default="", max_length=500)


class EventIn(BaseModel):
    """One email event of a contact in a sequence (or of an enrollment by id)."""

    model_config = ConfigDict(extra="forbid")

    kind: ActivityKind
    sequence: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    enrollment_id: int | None = Field(default=None, ge=1, le=accounts.MAX_RECORD_ID)
    occurred_at: datetime | None = None
    subject: str = Field(default="", max_length=500)


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item of a delivery."""

    index: int
    ok: bool
    result: str  # added, already_enrolled, recorded, rejected, not_found
    enrollment_id: int | None = None
    activity_id: int | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The item as it appears in an answer (empty fields left out)."""
        values = {
            "index": self.index,
            "ok": self.ok,
            "result": self.result,
            "enrollment_id": self.enrollment_id,
            "activity_id": self.activity_id,
            "error": self.error,
        }
        return {k: v for k, v in values.items() if v is not None}


# --- sequences --------------------------------------------------------------------------------


def find_sequence(*, session: Session, account_id: int, ref: str) -> Sequence:
    """The sequence the platform calls ``ref`` (:class:`NotFoundError` if it was never sent)."""
    sequence = session.exec(
        select(Sequence)
        .join(IngestSequenceRef, col(IngestSequenceRef.sequence_id) == col(Sequence.id))
        .where(IngestSequenceRef.account_id == account_id, IngestSequenceRef.ref == ref)
    ).first()
    if sequence is None:
        raise NotFoundError(
            f"no sequence {ref!r} in this account (create it first: PUT .../sequences/{{ref}})"
        )
    return sequence


def link_sequence(*, session: Session, account_id: int, ref: str, sequence_id: int) -> None:
    """Give an existing sequence of the account the platform's reference ``ref``."""
    sequence = accounts.get_sequence(session=session, sequence_id=sequence_id)
    if sequence.account_id != account_id:
        raise NotFoundError(f"no sequence {sequence_id} in this account")
    session.add(IngestSequenceRef(account_id=account_id, ref=ref, sequence_id=sequence_id))
    session.flush()


def upsert_sequence(
    *, session: Session, account_id: int, ref: str, given: SequenceIn, clock: Clock, actor: str
) -> tuple[Sequence, bool]:
    """Create the sequence ``ref`` or change its name and Syncing tab (audited either way);
    returns it and whether it was created. Contacts already added keep their decision."""
    ref = _check_ref(ref)
    try:
        sequence = find_sequence(session=session, account_id=account_id, ref=ref)
    except NotFoundError:
        sequence = accounts.add_sequence(
            session=session, account_id=account_id, name=given.name,
            disable_sync=given.disable_sync, project_id=given.project_id, actor=actor,
        )  # fmt: skip
        assert sequence.id is not None
        link_sequence(session=session, account_id=account_id, ref=ref, sequence_id=sequence.id)
        return sequence, True
    assert sequence.id is not None
    sequence = accounts.update_sequence(
        session=session, sequence_id=sequence.id, changes=given.model_dump(), actor=actor,
    )  # fmt: skip
    return sequence, False


def _check_ref(ref: str) -> str:
    ref = ref.strip()
    if not ref or len(ref) > 200 or any(ord(c) < 32 for c in ref):
        raise InvalidInputError("a sequence reference is 1 to 200 printable characters")
    return ref


def sequence_answer(sequence: Sequence, ref: str) -> dict[str, Any]:
    """A sequence as the API answers it."""
    return {
        "ref": ref,
        "sequence_id": sequence.id,
        "name": sequence.name,
        "disable_sync": sequence.disable_sync,
        "project_id": sequence.project_id,
    }


# --- contacts ---------------------------------------------------------------------------------


@contextmanager
def _savepoint(session: Session) -> Iterator[Session]:
    """The caller's transaction, as the session factory the import service expects: each of its
    batches is a savepoint, so the delivery record and the enrollments commit together."""
    with session.begin_nested():
        yield session


def add_contacts(
    *, session: Session, account_id: int, ref: str, contacts: list[Any]
) -> list[ItemResult]:
    """Enroll contacts in the sequence ``ref`` with the CLI's validation and add-time decision.

    A contact already in the sequence is reported as such with its enrollment (a retry of an
    add is not an error); an invalid one is rejected with the reason; the rest are added.
    """
    if len(contacts) > MAX_BATCH:
        raise InvalidInputError(f"at most {MAX_BATCH} contacts per batch ({len(contacts)} given)")
    sequence = find_sequence(session=session, account_id=account_id, ref=ref)
    assert sequence.id is not None
    emails = {
        index: normalize_email(str(item.get("email") or "")) if isinstance(item, dict) else ""
        for index, item in enumerate(contacts)
    }
    before = _enrolled(session, sequence.id, set(emails.values()))
    rows: list[tuple[int, contacts_csv.Row]] = []
    results: dict[int, ItemResult] = {}
    for index, item in enumerate(contacts):
        if emails[index] and emails[index] in before:
            results[index] = ItemResult(
                index, True, "already_enrolled", enrollment_id=before[emails[index]]
            )
            continue
        if not isinstance(item, dict):  # reported by the import as its reason, like a bad line
            rows.append((index, contacts_csv.UnreadableLine("a contact must be a JSON object")))
            continue
        rows.append((index, {k: "" if v is None else str(v) for k, v in item.items()}))
    report = enrollments.import_contacts(
        session_factory=lambda: _savepoint(session), sequence_id=sequence.id, rows=rows,
    )  # fmt: skip
    for index, reason in report.rejected:
        results[index] = ItemResult(index, False, "rejected", error=reason)
    after = _enrolled(session, sequence.id, set(emails.values()) - set(before))
    for index, _row in rows:
        if index not in results:
            results[index] = ItemResult(
                index, True, "added", enrollment_id=after.get(emails[index])
            )
    return [results[index] for index in range(len(contacts))]


def _enrolled(session: Session, sequence_id: int, emails: set[str]) -> dict[str, int]:
    """Email → enrollment id of those already in the sequence."""
    if not emails:
        return {}
    rows = session.exec(
        select(Contact.email, Enrollment.id)
        .join(Enrollment, col(Enrollment.contact_id) == col(Contact.id))
        .where(Enrollment.sequence_id == sequence_id, col(Contact.email).in_(emails))
    ).all()
    return {email: enrollment_id for email, enrollment_id in rows if enrollment_id is not None}


# --- events -----------------------------------------------------------------------------------


_REFS = table_of(IngestSequenceRef)
_ENROLLMENTS = table_of(Enrollment)
_CONTACTS = table_of(Contact)
# Built once: an event's enrollment is looked up on every delivery (the hot path). The contact
# first, by its unique (account, email), then its enrollment in the sequence: joining the two
# let PostgreSQL, on tables not yet analysed after an import, loop over every contact for every
# enrollment.
_CONTACT_BY_EMAIL = (
    sa.select(_CONTACTS.c.id)
    .where(
        _CONTACTS.c.account_id == sa.bindparam("account_id"),
        _CONTACTS.c.email == sa.bindparam("email"),
    )
    .scalar_subquery()
)
_ENROLLMENT_IN_SEQUENCE = (
    sa.select(_ENROLLMENTS.c.id)
    .where(
        _ENROLLMENTS.c.contact_id == _CONTACT_BY_EMAIL,
        _ENROLLMENTS.c.sequence_id == _REFS.c.sequence_id,
    )
    .limit(1)
    .scalar_subquery()
)
_ENROLLMENT_BY_REF_AND_EMAIL = sa.select(
    _REFS.c.sequence_id, _ENROLLMENT_IN_SEQUENCE.label("id")
).where(_REFS.c.account_id == sa.bindparam("account_id"), _REFS.c.ref == sa.bindparam("ref"))
_ENROLLMENT_ACCOUNT = sa.select(_ENROLLMENTS.c.account_id).where(
    _ENROLLMENTS.c.id == sa.bindparam("id")
)
# The same enrollment inside the statement that reads an event's context: one statement per
# event instead of two; when it finds nothing, find_enrollment says what is missing.
EVENT_CONTEXT_BY_REF_AND_EMAIL = event_context_query(
    sa.select(_ENROLLMENTS.c.id)
    .where(
        _ENROLLMENTS.c.contact_id == _CONTACT_BY_EMAIL,
        _ENROLLMENTS.c.sequence_id
        == sa.select(_REFS.c.sequence_id)
        .where(_REFS.c.account_id == sa.bindparam("account_id"), _REFS.c.ref == sa.bindparam("ref"))
        .scalar_subquery(),
    )
    .limit(1)
    .scalar_subquery()
)


def find_enrollment(
    *, session: Session, account_id: int, sequence_ref: str | None, email: str | None,
    enrollment_id: int | None,
) -> int:  # fmt: skip
    """The enrollment an event is for: by id, or by the sequence's reference and the email."""
    if enrollment_id is not None:
        owner = (
            bare_connection(session).execute(_ENROLLMENT_ACCOUNT, {"id": enrollment_id}).scalar()
        )
        if owner != account_id:
            raise NotFoundError(f"no enrollment {enrollment_id} in this account")
        return enrollment_id
    if not sequence_ref or not email:
        raise InvalidInputError("give enrollment_id, or sequence and email")
    address = normalize_email(email)
    row = (
        bare_connection(session)
        .execute(
            _ENROLLMENT_BY_REF_AND_EMAIL,
            {"account_id": account_id, "ref": sequence_ref, "email": address},
        )
        .first()
    )
    if row is None:
        raise NotFoundError(
            f"no sequence {sequence_ref!r} in this account (create it first: PUT .../sequences/{{ref}})"
        )
    if row.id is None:
        raise NotFoundError(
            f"{address[:80]} is not in sequence {sequence_ref!r} (add the contact first)"
        )
    return int(row.id)


def record_events(
    *, session: Session, account_id: int, events: list[EventIn], clock: Clock
) -> list[ItemResult]:
    """Record email events, each on its own savepoint: a bad or unknown one is reported and the
    others are recorded. A reply is R1's second trigger, as from the CLI."""
    if len(events) > MAX_BATCH:
        raise InvalidInputError(f"at most {MAX_BATCH} events per batch ({len(events)} given)")
    results = []
    for index, event in enumerate(events):
        try:
            with session.begin_nested():
                activity = record_one_event(
                    session=session, account_id=account_id, event=event, clock=clock
                )
        except NotFoundError as exc:
            results.append(ItemResult(index, False, "not_found", error=str(exc)))
            continue
        except InvalidInputError as exc:
            results.append(ItemResult(index, False, "rejected", error=str(exc)))
            continue
        results.append(
            ItemResult(index, True, "recorded", enrollment_id=activity.enrollment_id,
                       activity_id=activity.id)
        )  # fmt: skip
    return results


def record_one_event(
    *, session: Session, account_id: int, event: EventIn, clock: Clock
) -> RecordedEvent:
    """Record one event (:class:`NotFoundError` / :class:`InvalidInputError` as the services
    raise them)."""
    at = event.occurred_at
    if at is not None:
        if at.tzinfo is None:
            raise InvalidInputError("occurred_at needs a timezone, e.g. 2026-11-28T09:30:00Z")
        now = clock()
        if now < at <= now + CLOCK_SKEW:
            at = now
    if event.enrollment_id is None and event.sequence and event.email:
        params = {"account_id": account_id, "ref": event.sequence,
                  "email": normalize_email(event.email)}  # fmt: skip
        with contextlib.suppress(NotFoundError):  # find_enrollment below says what is missing
            return record_event(
                session=session, kind=event.kind, at=at, subject=event.subject,
                enrollment_id=EnrollmentLookup(EVENT_CONTEXT_BY_REF_AND_EMAIL, params),
            )  # fmt: skip
    enrollment_id = find_enrollment(
        session=session, account_id=account_id, sequence_ref=event.sequence, email=event.email,
        enrollment_id=event.enrollment_id,
    )  # fmt: skip
    return record_event(
        session=session, enrollment_id=enrollment_id, kind=event.kind, at=at,
        subject=event.subject,
    )  # fmt: skip


# --- status -----------------------------------------------------------------------------------


def enrollment_status(*, session: Session, account_id: int, enrollment_id: int) -> dict[str, Any]:
    """An enrollment's sync status as the API answers it (SPEC §4), with activity counts."""
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None or enrollment.account_id != account_id:
        raise NotFoundError(f"no enrollment {enrollment_id} in this account")
    contact = session.get(Contact, enrollment.contact_id)
    counts = {state.value: 0 for state in ActivityState}
    for state, count in session.exec(
        select(Activity.state, sa.func.count())
        .where(Activity.enrollment_id == enrollment_id)
        .group_by(col(Activity.state))
    ).all():
        counts[state] = count
    return {
        "enrollment_id": enrollment.id,
        "sequence_id": enrollment.sequence_id,
        "email": contact.email if contact else None,
        "status": enrollment.status,
        "reason": enrollment.reason,
        "reason_text": reason_message(enrollment.reason),
        "exists_in_clockwork": enrollment.exists_in_clockwork,
        "clockwork_person_id": enrollment.clockwork_person_id,
        "project_id": enrollment.project_id,
        "attempts": enrollment.attempts,
        "added_at": _iso(enrollment.added_at),
        "synced_at": _iso(enrollment.synced_at),
        "next_attempt_at": _iso(enrollment.next_attempt_at),
        "activities": counts,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- other platforms' events ------------------------------------------------------------------


def apply_platform_event(
    *, session: Session, account_id: int, event: PlatformEvent, clock: Clock, actor: str
) -> dict[str, Any]:
    """Record a platform's event: its campaign becomes a sequence (created with the default
    Syncing tab the first time), its lead is enrolled if not yet (the add-time decision is taken
    then), and the event is recorded. An event type without an activity is acknowledged only."""
    answer: dict[str, Any] = {"platform": event.platform, "event_type": event.event_type}
    if event.kind is None:
        return answer | {"result": "ignored"}
    try:
        find_sequence(session=session, account_id=account_id, ref=event.campaign_ref)
    except NotFoundError:
        upsert_sequence(
            session=session, account_id=account_id, ref=event.campaign_ref,
            given=SequenceIn(name=event.campaign_name), clock=clock, actor=actor,
        )  # fmt: skip
    (added,) = add_contacts(
        session=session, account_id=account_id, ref=event.campaign_ref,
        contacts=[event.contact],
    )  # fmt: skip
    if not added.ok:
        raise InvalidInputError(added.error or "the lead could not be added")
    activity = record_one_event(
        session=session, account_id=account_id, clock=clock,
        event=EventIn(kind=event.kind, enrollment_id=added.enrollment_id,
                      occurred_at=event.occurred_at, subject=event.subject),
    )  # fmt: skip
    return answer | {
        "result": "recorded",
        "sequence": event.campaign_ref,
        "enrollment_id": activity.enrollment_id,
        "activity_id": activity.id,
        "contact": added.result,
    }

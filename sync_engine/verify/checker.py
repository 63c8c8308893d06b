"""What one synced contact should have in Clockwork, and checking it with the fewest reads.

For each contact the store says is synced (:func:`expectations`), :class:`Checker` reads:

- the person (``GET /people/{id}``): missing → *person missing*; answered with another id → the
  person was merged and Clockwork says into whom (followed; the contact is re-linked by a
  repair); the contact's email must be on the person;
- each snapshot project's candidates, **once per project for the whole run** (pages of 100, so a
  fraction of a read per contact): the person must be one of them;
- the person's notes (``GET /people/{id}/notes``) **only when the contact has activity** written
  as notes: each activity key must be in one.

Nothing is written to Clockwork. Reads are counted by the caller's client hook.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_engine.clockwork.client import ClockworkClient
from sync_engine.clockwork.errors import ClockworkNotFound, ClockworkUnexpectedResponse
from sync_engine.engine.pipeline import NOTE_KEY_PREFIX
from sync_engine.matching import normalize_email
from sync_engine.models import (
    Activity,
    ActivityState,
    Contact,
    Enrollment,
    EnrollmentStatus,
)
from sync_engine.verify.models import CheckStatus, Drift

log = logging.getLogger(__name__)


@dataclass
class Expected:
    """What the store says one contact has in Clockwork."""

    contact_id: int
    email: str
    person_id: str
    created_by_us: bool
    projects: dict[str, list[int]] = field(default_factory=dict)  # project id -> enrollment ids
    notes: dict[str, int] = field(default_factory=dict)  # activity key -> activity id


@dataclass(frozen=True)
class Finding:
    """One thing found missing: what, in plain words, and what a repair needs."""

    drift: Drift
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"drift": self.drift.value, "reason": self.reason, **self.detail}


@dataclass(frozen=True)
class Result:
    """A contact's verification: ok or drifted, with its findings."""

    contact_id: int
    status: CheckStatus
    findings: list[Finding]

    @property
    def reason(self) -> str | None:
        """The findings in one plain sentence or a few."""
        return " ".join(f.reason for f in self.findings)[:500] or None


def synced_contacts_query(
    *, account_id: int, sequence_id: int | None, after: int, stride: int, offset: int
) -> Any:
    """Ids of the account's synced contacts (of one sequence if given) after ``after``, in id
    order; with ``stride`` > 1 only every stride-th id (a sample spread over the account)."""
    synced = (
        select(Enrollment.id)
        .where(col(Enrollment.contact_id) == col(Contact.id))
        .where(Enrollment.status == EnrollmentStatus.SYNCED)
    )
    if sequence_id is not None:
        synced = synced.where(Enrollment.sequence_id == sequence_id)
    query = (
        select(Contact.id)
        .where(Contact.account_id == account_id)
        .where(col(Contact.clockwork_person_id).is_not(None))
        .where(col(Contact.id) > after)
        .where(synced.exists())
        .order_by(col(Contact.id))
    )
    if stride > 1:
        query = query.where(sa.func.mod(col(Contact.id), stride) == offset % stride)
    return query


def expectations(
    *, session: Session, contact_ids: list[int], sequence_id: int | None = None
) -> list[Expected]:
    """What each contact should have in Clockwork, from its synced enrollments (three queries)."""
    if not contact_ids:
        return []
    contacts = {
        c.id: c for c in session.exec(select(Contact).where(col(Contact.id).in_(contact_ids)))
    }
    found: dict[int, Expected] = {}
    for contact_id in contact_ids:
        contact = contacts.get(contact_id)
        if contact is None or contact.clockwork_person_id is None:
            continue
        found[contact_id] = Expected(
            contact_id, contact.email, contact.clockwork_person_id, contact.person_created_by_us
        )
    enrollments = select(Enrollment).where(
        col(Enrollment.contact_id).in_(list(found)), Enrollment.status == EnrollmentStatus.SYNCED
    )
    if sequence_id is not None:
        enrollments = enrollments.where(Enrollment.sequence_id == sequence_id)
    by_enrollment: dict[int, Expected] = {}
    for enrollment in session.exec(enrollments):
        assert enrollment.id is not None
        expected = found[enrollment.contact_id]
        by_enrollment[enrollment.id] = expected
        if enrollment.project_id and enrollment.candidacy_done:
            expected.projects.setdefault(enrollment.project_id, []).append(enrollment.id)
    if by_enrollment:
        for activity in session.exec(
            select(Activity)
            .where(col(Activity.enrollment_id).in_(list(by_enrollment)))
            .where(Activity.state == ActivityState.SYNCED)
            .where(col(Activity.note_id).is_not(None))
        ):
            assert activity.id is not None
            by_enrollment[activity.enrollment_id].notes[activity.activity_key] = activity.id
    return list(found.values())


class Checker:
    """Checks contacts against one firm; remembers each project's candidates for the run."""

    def __init__(self, client: ClockworkClient) -> None:
        self.client = client
        self._candidates: dict[str, set[str] | None] = {}

    def _project_candidates(self, project_id: str) -> set[str] | None:
        """The project's candidates, read once; None when the contract cannot list them all
        (a listing past the client's page cap): its candidacies are then not checked."""
        if project_id not in self._candidates:
            try:
                self._candidates[project_id] = {
                    str(c.get("personId")) for c in self.client.iter_candidacies(project_id)
                }
            except ClockworkNotFound:  # the project itself is gone: nobody is in it
                self._candidates[project_id] = set()
            except ClockworkUnexpectedResponse as exc:
                log.warning("project %s: candidacies not checked: %s", project_id, exc)
                self._candidates[project_id] = None
        return self._candidates[project_id]

    def check(self, expected: Expected) -> Result:
        """Read what Clockwork holds for one contact and compare."""
        findings: list[Finding] = []
        try:
            person = self.client.get_person(expected.person_id)
        except ClockworkNotFound:
            findings.append(
                Finding(
                    Drift.PERSON_MISSING,
                    "The person is no longer in Clockwork (deleted there, or merged without a "
                    "forwarding record).",
                    {"person_id": expected.person_id},
                )
            )
            return Result(expected.contact_id, CheckStatus.DRIFTED, findings)
        person_id = str(person.get("id"))
        if person_id != expected.person_id:
            findings.append(
                Finding(
                    Drift.PERSON_MERGED,
                    "The person was merged into another person in Clockwork; the contact still "
                    "points to the old record.",
                    {"person_id": expected.person_id, "survivor_id": person_id},
                )
            )
        addresses = {
            normalize_email(str(e.get("address")))
            for e in person.get("emails") or []
            if isinstance(e, dict) and e.get("address")
        }
        if normalize_email(expected.email) not in addresses:
            findings.append(
                Finding(
                    Drift.EMAIL_MISSING,
                    f"The person in Clockwork no longer has the email {expected.email}.",
                    {"person_id": person_id},
                )
            )
        for project_id, enrollment_ids in sorted(expected.projects.items()):
            candidates = self._project_candidates(project_id)
            if candidates is not None and person_id not in candidates:
                findings.append(
                    Finding(
                        Drift.CANDIDACY_MISSING,
                        "The person is no longer a candidate in the sequence's project.",
                        {"project_id": project_id, "enrollment_ids": enrollment_ids},
                    )
                )
        if expected.notes:
            contents = " ".join(
                str(n.get("content", "")) for n in self.client.iter_notes(person_id)
            )
            missing = [
                activity_id
                for key, activity_id in expected.notes.items()
                if f"{NOTE_KEY_PREFIX}{key}" not in contents
            ]
            if missing:
                count = len(missing)
                findings.append(
                    Finding(
                        Drift.NOTES_MISSING,
                        f"{count} email activity note{'s are' if count != 1 else ' is'} missing "
                        "from the person in Clockwork.",
                        {"activity_ids": sorted(missing)},
                    )
                )
        status = CheckStatus.DRIFTED if findings else CheckStatus.OK
        return Result(expected.contact_id, status, findings)

"""Repairing drift: a preview of what will be done per contact, then the work handed to the engine.

Nothing here calls Clockwork. :func:`apply_repair` puts the drifted contacts' work back in the
engine's queue in the state each repair needs, and the normal pipeline does it on its next pass,
with its usual safeguards (it searches before it creates, a person already in the project is a
success, a note is looked up by its activity key before it is written), so running a repair twice
changes nothing more. Each contact's repair is in the audit log.

- person missing → the contact's person is forgotten and its enrollments sync again: found by
  email if it is back, else created, then added to the project and its notes written;
- person merged → the contact is linked to the survivor, then its candidacies and notes are
  checked again on the survivor (already there = done);
- candidacy missing → the person is added to the project again;
- notes missing → those notes are written again;
- email missing → put back on a person we created; on a person that was only linked (found by
  that email), left to staff: the preview says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_engine.audit import record_change
from sync_engine.db import clock_of
from sync_engine.models import (
    Activity,
    ActivityState,
    Contact,
    Enrollment,
    EnrollmentStatus,
)
from sync_engine.verify.models import CheckStatus, ContactCheck, Drift

ACTIONS = {
    Drift.PERSON_MISSING: "Find or create the person again, add them to the project and write "
    "their notes again",
    Drift.PERSON_MERGED: "Link the contact to the person it was merged into",
    Drift.CANDIDACY_MISSING: "Add the person to the project again",
    Drift.NOTES_MISSING: "Write the missing notes again",
    Drift.EMAIL_MISSING: "Add the email to the person again",
}
EMAIL_ON_LINKED = (
    "Not repaired automatically: this person was found by that email and someone removed it in "
    "Clockwork; add it back there if it is still right"
)


@dataclass(frozen=True)
class RepairStep:
    """What a repair will do for one contact."""

    contact_id: int
    email: str
    reason: str
    actions: list[str]
    repairable: bool


def _drifted(session: Session, account_id: int) -> list[tuple[ContactCheck, Contact]]:
    return list(
        session.exec(
            select(ContactCheck, Contact)
            .join(Contact, col(Contact.id) == col(ContactCheck.contact_id))
            .where(ContactCheck.account_id == account_id)
            .where(ContactCheck.status == CheckStatus.DRIFTED)
            .order_by(col(ContactCheck.contact_id))
        ).all()
    )


def _actions(check: ContactCheck, contact: Contact) -> list[str]:
    actions = []
    for finding in check.findings:
        drift = Drift(finding["drift"])
        if drift == Drift.EMAIL_MISSING and not contact.person_created_by_us:
            actions.append(EMAIL_ON_LINKED)
        else:
            actions.append(ACTIONS[drift])
    return actions


def preview_repair(*, session: Session, account_id: int) -> list[RepairStep]:
    """Every drifted contact of the account and what its repair will do."""
    steps = []
    for check, contact in _drifted(session, account_id):
        assert contact.id is not None
        actions = _actions(check, contact)
        steps.append(
            RepairStep(
                contact_id=contact.id,
                email=contact.email,
                reason=check.reason or "",
                actions=actions,
                repairable=any(a != EMAIL_ON_LINKED for a in actions),
            )
        )
    return steps


def _synced_enrollments(session: Session, contact_id: int) -> list[Enrollment]:
    return list(
        session.exec(
            select(Enrollment)
            .where(Enrollment.contact_id == contact_id)
            .where(Enrollment.status == EnrollmentStatus.SYNCED)
        )
    )


def _rewrite_notes(session: Session, enrollment_ids: list[int], activity_ids: Any = None) -> None:
    query = (
        sa.update(Activity)
        .where(col(Activity.enrollment_id).in_(enrollment_ids))
        .where(col(Activity.state) == ActivityState.SYNCED)
    )
    if activity_ids is not None:
        query = query.where(col(Activity.id).in_(list(activity_ids)))
    session.execute(query.values(state=ActivityState.PENDING, note_id=None, attempts=0))


def _requeue(enrollment: Enrollment, now: datetime) -> None:
    enrollment.status, enrollment.reason, enrollment.last_error = (
        EnrollmentStatus.QUEUED,
        None,
        None,
    )
    enrollment.attempts, enrollment.next_attempt_at = 0, now


def _repair_contact(session: Session, check: ContactCheck, contact: Contact, now: datetime) -> None:
    enrollments = _synced_enrollments(session, contact.id or 0)
    ids = [e.id for e in enrollments if e.id is not None]
    drifts = {Drift(f["drift"]): f for f in check.findings}
    if Drift.PERSON_MISSING in drifts:
        contact.clockwork_person_id = None
        contact.person_created_by_us = False
        contact.person_created_by_enrollment_id = None
        contact.person_creation_started_at = None
        contact.email_attached = contact.position_attached = contact.linkedin_attached = False
        for enrollment in enrollments:
            _requeue(enrollment, now)
            enrollment.clockwork_person_id, enrollment.candidacy_done = None, False
            enrollment.link, enrollment.exists_in_clockwork = None, False
        _rewrite_notes(session, ids)
    else:
        if Drift.PERSON_MERGED in drifts:
            survivor = str(drifts[Drift.PERSON_MERGED]["survivor_id"])
            contact.clockwork_person_id = survivor
            contact.person_created_by_us = False  # the survivor is Clockwork's, not ours
            for enrollment in enrollments:
                enrollment.clockwork_person_id = survivor
                enrollment.candidacy_done = False  # checked again on the survivor
                enrollment.next_attempt_at = now
            _rewrite_notes(session, ids)
        if Drift.CANDIDACY_MISSING in drifts:
            again = set(drifts[Drift.CANDIDACY_MISSING].get("enrollment_ids", []))
            for enrollment in enrollments:
                if enrollment.id in again:
                    enrollment.candidacy_done, enrollment.next_attempt_at = False, now
        if Drift.NOTES_MISSING in drifts:
            _rewrite_notes(session, ids, drifts[Drift.NOTES_MISSING].get("activity_ids", []))
            for enrollment in enrollments:
                enrollment.next_attempt_at = now
        if Drift.EMAIL_MISSING in drifts and contact.person_created_by_us:
            contact.email_attached = False  # the pipeline reads the person back and adds it
            for enrollment in enrollments:
                _requeue(enrollment, now)
    for enrollment in enrollments:
        session.add(enrollment)
    session.add(contact)


def apply_repair(*, session: Session, account_id: int, actor: str) -> int:
    """Queue the repair of every drifted contact of the account; returns how many. The engine
    carries it out on its next pass; a second call finds nothing left to do."""
    now = clock_of(session)()
    repaired = 0
    for check, contact in _drifted(session, account_id):
        actions = _actions(check, contact)
        if not any(a != EMAIL_ON_LINKED for a in actions):
            continue
        _repair_contact(session, check, contact, now)
        check.status, check.repaired_at = CheckStatus.REPAIRED, now
        session.add(check)
        record_change(
            session=session, at=now, actor=actor, account_id=account_id, entity="contact",
            entity_id=contact.id, field="repair", old=(check.reason or "")[:500],
            new="; ".join(actions)[:500],
        )  # fmt: skip
        repaired += 1
    return repaired

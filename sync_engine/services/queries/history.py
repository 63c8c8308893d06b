"""One enrollment in detail: its contact, the project it joins, and its timeline in words.

The timeline reads: added, the decision then (with the settings it was made under), the reply,
each sync attempt, the sync, and every email activity with what became of its note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from sync_engine.models import (
    AccountSettings,
    Activity,
    ActivityState,
    Enrollment,
    EnrollmentStatus,
    Sequence,
    SyncAttempt,
    SyncMode,
)
from sync_engine.rules import Action
from sync_engine.services.errors import NotFoundError
from sync_engine.services.queries import contact_table
from sync_engine.services.queries.reason_texts import LINK_WORDS, STATUS_LABELS, reason_info
from sync_engine.services.wording import plural


@dataclass(frozen=True)
class TimelineEvent:
    """One line of an enrollment's history."""

    at: datetime
    event: str
    detail: str  # in words, for staff
    technical: str = ""  # what an engineer needs: Clockwork's raw error, codes


@dataclass
class EnrollmentDetail:
    """An enrollment with its history, for the detail view."""

    row: contact_table.EnrollmentRow
    account_id: int
    contact: dict[str, str]
    timeline: list[TimelineEvent]
    activity_counts: dict[str, int]
    review_candidates: list[dict[str, Any]] = field(default_factory=list)
    project: str = ""  # the Clockwork project, in words (see _project_of)


_OUTCOME_WORDS = {
    "started": "In progress",
    "synced": "Synced",
    "delivered": "Notes delivered",
    "retrying": "Failed; it will be retried automatically",
    "failed": "Failed",
    "needs_review": "Waiting for staff to choose the Clockwork person",
    "deferred": "Put back to respect Clockwork's pace",
    "paused": "Paused: Clockwork rejected the credentials",
    "lost_lease": "Handed over to another worker",
    "abandoned": "Cut off before it finished; it goes back to the queue",
}
_MODE_AT_ADD = {
    SyncMode.ON_ADD: "sync when added",
    SyncMode.ON_REPLY: "sync only on reply",
    SyncMode.OFF: "sync off",
}


def _project_of(enrollment: Enrollment, session: Session, names: dict[str, str]) -> str:
    """The Clockwork project of an enrollment in words: the one it joins, or why none yet."""
    if enrollment.project_id:
        name = names.get(enrollment.project_id)
        return name or "a project Clockwork does not list (see Technical details)"
    if enrollment.status == EnrollmentStatus.AWAITING_REPLY:
        sequence = session.get(Sequence, enrollment.sequence_id)
        settings = session.get(AccountSettings, enrollment.account_id)
        upcoming = (sequence.project_id if sequence else None) or (
            settings.default_project_id if settings else None
        )
        if upcoming:
            return (
                "decided when they reply: the sequence's project then "
                f"(now {names.get(upcoming, 'a project Clockwork does not list')})"
            )
        return "decided when they reply (the sequence and the account have none now)"
    if enrollment.status == EnrollmentStatus.SKIPPED:
        return "none (the contact is not synced)"
    return "none: the sequence had no project when it was decided (person only)"


_DECISION_WORDS: dict[str, str] = {
    Action.SYNC: "queued for sync",
    Action.AWAIT_REPLY: "waiting for a reply (sync on reply)",
    Action.SKIP: "skipped",
}
NOT_RECORDED = "Not recorded (the contact was added before decisions were stored)"


def _decision_at_add(enrollment: Enrollment) -> TimelineEvent:
    """R1's decision at add as it was stored, with the settings it was made under."""
    if enrollment.action_at_add is None:
        words = NOT_RECORDED
    else:
        action = enrollment.action_at_add
        words = _DECISION_WORDS.get(action, action.replace("_", " ")).capitalize()
    if enrollment.reason_at_add:
        message = reason_info(enrollment.reason_at_add).message
        words += f": {message[0].lower()}{message[1:]}"
    settings = (
        f"settings then: {_MODE_AT_ADD.get(SyncMode(enrollment.sync_mode_at_add), 'sync')}, "
        f"Clockwork {'connected' if enrollment.connected_at_add else 'not connected'}, "
        f"deduplication {'on' if enrollment.dedup_at_add else 'off'}"
        + (", Disable Sync on" if enrollment.disable_sync_at_add else "")
    )
    return TimelineEvent(
        enrollment.added_at,
        "Decision when added",
        f"{words} ({settings})",
        technical=f"reason code {enrollment.reason_at_add}" if enrollment.reason_at_add else "",
    )


def enrollment_detail(
    *, session: Session, enrollment_id: int, project_names: dict[str, str] | None = None
) -> EnrollmentDetail:
    """The enrollment, its contact, and its timeline: added, decision, reply, attempts, activity.

    ``project_names`` (id → name, from the firm) makes the project readable when given.
    """
    found = session.exec(contact_table.rows_select().where(Enrollment.id == enrollment_id)).first()
    if found is None:
        raise NotFoundError(f"no enrollment {enrollment_id}")
    enrollment, contact, sequence = found
    made = contact_table.attempts_made(session=session, enrollment_ids=[enrollment_id])
    row = contact_table.make_row(
        enrollment, contact, sequence, contact_table.firm_ref(session, enrollment.account_id),
        made.get(enrollment_id, 0),
    )  # fmt: skip
    names = project_names or {}
    events = [
        TimelineEvent(enrollment.added_at, "Added", f"To the sequence {sequence}"),
        _decision_at_add(enrollment),
    ]
    if enrollment.replied_at is not None:
        detail = "the reply trigger was applied"
        if enrollment.decided_at and enrollment.decided_at >= enrollment.replied_at:
            detail = f"decided again on reply: {STATUS_LABELS.get(enrollment.status, '')}"
        events.append(TimelineEvent(enrollment.replied_at, "Replied", detail))
    if enrollment.project_id and enrollment.decided_at:
        events.append(
            TimelineEvent(
                enrollment.decided_at,
                "Project",
                "Joins " + _project_of(enrollment, session, names),
                technical=f"project id {enrollment.project_id}",
            )
        )
    for attempt in session.exec(
        select(SyncAttempt)
        .where(SyncAttempt.enrollment_id == enrollment_id)
        .order_by(col(SyncAttempt.started_at), col(SyncAttempt.id))
    ).all():
        detail = _OUTCOME_WORDS.get(attempt.outcome, attempt.outcome.replace("_", " ").capitalize())
        if attempt.reason:
            detail += f" — {reason_info(attempt.reason).message}"
        if attempt.calls:
            detail += f"; {plural(attempt.calls, 'request to Clockwork')}"
        technical = "; ".join(
            part
            for part in (
                f"outcome {attempt.outcome}",
                f"reason code {attempt.reason}" if attempt.reason else "",
                attempt.error or "",
            )
            if part
        )
        events.append(TimelineEvent(attempt.started_at, "Sync attempt", detail, technical))
    if enrollment.synced_at is not None:
        detail = LINK_WORDS.get(enrollment.link or "", "Synced")
        if enrollment.exists_in_clockwork:
            detail += " — Exists in Clockwork (entered before this integration)"
        events.append(TimelineEvent(enrollment.synced_at, "Synced", detail))
    counts = {state.value: 0 for state in ActivityState}
    for activity in session.exec(
        select(Activity)
        .where(Activity.enrollment_id == enrollment_id)
        .order_by(col(Activity.occurred_at), col(Activity.id))
    ).all():
        counts[activity.state] = counts.get(activity.state, 0) + 1
        why = reason_info(activity.reason) if activity.reason else None
        note = {
            ActivityState.SYNCED: "note written to Clockwork",
            ActivityState.PENDING: "note waiting to be written",
            ActivityState.FAILED: "note failed" + (f": {why.message}" if why else ""),
            ActivityState.SKIPPED: "not sent" + (f": {why.message}" if why else ""),
        }.get(ActivityState(activity.state), activity.state)
        subject = f" “{activity.subject}”" if activity.subject else ""
        events.append(
            TimelineEvent(
                activity.occurred_at,
                f"Email {activity.kind}",
                f"{subject} — {note}".strip(" —"),
                technical=activity.last_error or "",
            )
        )
    events.sort(key=lambda event: event.at)
    return EnrollmentDetail(
        row=row,
        account_id=enrollment.account_id,
        contact={
            "email": contact.email,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "title": contact.title,
            "company": contact.company,
            "linkedin_url": contact.linkedin_url,
        },
        timeline=events,
        activity_counts=counts,
        review_candidates=list(enrollment.review_candidates or []),
        project=_project_of(enrollment, session, names),
    )

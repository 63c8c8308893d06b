"""Per-enrollment status as the CLI's ``status --json`` and scripts see it (SPEC §4, §6)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, func, select

from sync_engine.models import Activity, ActivityState, Contact, Enrollment

PARTITION = 1000


def activity_counts(*, session: Session, enrollment_ids: list[int]) -> dict[int, dict[str, int]]:
    """Activities of these enrollments, counted by state (one grouped query on an index)."""
    counts: dict[int, dict[str, int]] = {}
    rows = session.exec(
        select(Activity.enrollment_id, Activity.state, func.count())
        .where(col(Activity.enrollment_id).in_(enrollment_ids))
        .group_by(col(Activity.enrollment_id), col(Activity.state))
    ).all()
    for enrollment_id, state, count in rows:
        counts.setdefault(enrollment_id, _zero_counts())[state] = count
    return counts


def _zero_counts() -> dict[str, int]:
    return {state.value: 0 for state in ActivityState}


def iter_status(
    *, session: Session, account_id: int, partition: int = PARTITION
) -> Iterator[dict[str, Any]]:
    """One plain dict per enrollment of the account, oldest first, streamed from the store.

    The account is read ``partition`` enrollments at a time (keyset on the id, with their
    activity counts), so the first row comes at once and memory stays flat at any size.
    """
    after = 0
    while True:
        page = session.exec(
            select(Enrollment, Contact.email)
            .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
            .where(Enrollment.account_id == account_id, col(Enrollment.id) > after)
            .order_by(col(Enrollment.id))
            .limit(partition)
        ).all()
        if not page:
            return
        ids = [enrollment.id or 0 for enrollment, _ in page]
        counts = activity_counts(session=session, enrollment_ids=ids)
        for enrollment, email in page:
            yield _as_dict(enrollment, email, counts.get(enrollment.id or 0) or _zero_counts())
        session.expunge_all()  # the rows are yielded; keep the identity map from growing
        after = ids[-1]


def _as_dict(enrollment: Enrollment, email: str, activities: dict[str, int]) -> dict[str, Any]:
    return {
        "enrollment_id": enrollment.id,
        "email": email,
        "sequence_id": enrollment.sequence_id,
        "status": enrollment.status,
        "reason": enrollment.reason,
        "link": enrollment.link,
        "match_rule": enrollment.match_rule,
        "review_candidates": enrollment.review_candidates,
        "exists_in_clockwork": enrollment.exists_in_clockwork,
        "clockwork_person_id": enrollment.clockwork_person_id,
        "project_id": enrollment.project_id,
        "attempts": enrollment.attempts,
        "next_attempt_at": _iso(enrollment.next_attempt_at),
        "last_error": enrollment.last_error,
        "added_at": _iso(enrollment.added_at),
        "synced_at": _iso(enrollment.synced_at),
        "activities": activities,
    }


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None

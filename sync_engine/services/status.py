"""Per-enrollment status as the CLI's ``status --json`` and scripts see it (SPEC §4, §6)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlmodel import Session, col, func, select

from sync_engine.models import Activity, ActivityState, Contact, Enrollment


def activity_counts(*, session: Session, account_id: int) -> dict[int, dict[str, int]]:
    """Activities per enrollment of an account, counted by state (one grouped query)."""
    rows = session.exec(
        select(Activity.enrollment_id, Activity.state, func.count())
        .where(Activity.account_id == account_id)
        .group_by(col(Activity.enrollment_id), col(Activity.state))
    ).all()
    counts: dict[int, dict[str, int]] = defaultdict(_zero_counts)
    for enrollment_id, state, count in rows:
        counts[enrollment_id][state] = count
    return counts


def _zero_counts() -> dict[str, int]:
    return {state.value: 0 for state in ActivityState}


def iter_status(*, session: Session, account_id: int) -> Iterator[dict[str, Any]]:
    """One plain dict per enrollment of the account, oldest first, streamed from the store."""
    counts = activity_counts(session=session, account_id=account_id)
    query = (
        select(Enrollment, Contact.email)
        .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
        .where(Enrollment.account_id == account_id)
        .order_by(col(Enrollment.id))
        .execution_options(yield_per=1000)
    )
    for enrollment, email in session.exec(query):
        yield {
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
            "activities": counts.get(enrollment.id or 0, _zero_counts()),
        }


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None

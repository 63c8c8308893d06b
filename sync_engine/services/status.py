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


_COLUMNS = (
    "id", "sequence_id", "status", "reason", "link", "match_rule", "review_candidates",
    "exists_in_clockwork", "clockwork_person_id", "project_id", "attempts", "next_attempt_at",
    "last_error", "added_at", "synced_at",
)  # fmt: skip


def iter_status(
    *, session: Session, account_id: int, partition: int = PARTITION
) -> Iterator[dict[str, Any]]:
    """One plain dict per enrollment of the account, oldest first, streamed from the store.

    The account is read ``partition`` enrollments at a time (keyset on the id, plain columns,
    with their activity counts), so the first row comes at once and memory stays flat at any
    size.
    """
    columns = [getattr(Enrollment, name) for name in _COLUMNS]
    after = 0
    while True:
        page: Any = session.exec(
            select(*columns, Contact.email)  # type: ignore[call-overload]
            .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
            .where(Enrollment.account_id == account_id, col(Enrollment.id) > after)
            .order_by(col(Enrollment.id))
            .limit(partition)
        ).all()
        if not page:
            return
        counts = activity_counts(session=session, enrollment_ids=[row.id for row in page])
        for row in page:
            yield _as_dict(row, counts.get(row.id) or _zero_counts())
        after = page[-1].id


def _as_dict(row: Any, activities: dict[str, int]) -> dict[str, Any]:
    return {
        "enrollment_id": row.id,
        "email": row.email,
        "sequence_id": row.sequence_id,
        "status": row.status,
        "reason": row.reason,
        "link": row.link,
        "match_rule": row.match_rule,
        "review_candidates": row.review_candidates,
        "exists_in_clockwork": row.exists_in_clockwork,
        "clockwork_person_id": row.clockwork_person_id,
        "project_id": row.project_id,
        "attempts": row.attempts,
        "next_attempt_at": _iso(row.next_attempt_at),
        "last_error": row.last_error,
        "added_at": _iso(row.added_at),
        "synced_at": _iso(row.synced_at),
        "activities": activities,
    }


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None

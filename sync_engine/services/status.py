"""Per-enrollment status as the CLI's ``status --json`` and scripts see it (SPEC §4, §6)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from sync_engine.models import Activity, ActivityState, Contact, Enrollment

PARTITION = 1000


def _activity_counts(*, session: Session, enrollment_ids: list[int]) -> dict[int, dict[str, int]]:
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


# The enrollment's columns as they appear in each row, after "enrollment_id" and "email".
_FIELDS = (
    "sequence_id", "status", "reason", "link", "match_rule", "review_candidates",
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
    columns = [
        col(Enrollment.id).label("enrollment_id"),
        Contact.email,
        *(getattr(Enrollment, name) for name in _FIELDS),
    ]
    after = 0
    while True:
        page: Any = session.exec(
            select(*columns)
            .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
            .where(Enrollment.account_id == account_id, col(Enrollment.id) > after)
            .order_by(col(Enrollment.id))
            .limit(partition)
        ).all()
        if not page:
            return
        ids = [row.enrollment_id for row in page]
        counts = _activity_counts(session=session, enrollment_ids=ids)
        for row in page:
            values = {name: _plain(value) for name, value in row._mapping.items()}
            yield values | {"activities": counts.get(row.enrollment_id) or _zero_counts()}
        after = ids[-1]


def _plain(value: Any) -> Any:
    """A value as JSON carries it: timestamps in ISO 8601."""
    return value.isoformat() if isinstance(value, datetime) else value

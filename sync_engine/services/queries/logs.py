"""The logs: email activity and its notes, the engine's passes, Clockwork requests, the audit log.

Every function takes ``*, session``; pages are read by id from an index, newest first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from sync_engine.models import (
    Account,
    Activity,
    ActivityState,
    ApiCall,
    AuditEntry,
    Contact,
    EngineRun,
    Enrollment,
    Sequence,
)
from sync_engine.services import wording
from sync_engine.services.queries.reason_texts import REASONS, STATUS_LABELS, reason_message
from sync_engine.services.queries.sql import page_ids


@dataclass(frozen=True)
class ActivityRow:
    """One email event and what became of its Clockwork note."""

    activity_id: int
    enrollment_id: int
    occurred_at: datetime
    kind: str
    subject: str
    email: str
    sequence: str
    state: str
    reason_message: str | None
    attempts: int
    synced_at: datetime | None
    last_error: str | None


def activity_counts_by_state(*, session: Session, account_id: int) -> dict[str, int]:
    """The account's activities by delivery state."""
    # Each state counted in its range of the (account, state) index: asked for one grouped
    # count, PostgreSQL reads the account's rows from the table instead.
    counts = {}
    for state in ActivityState:
        counts[state.value] = int(
            session.exec(
                select(func.count())
                .select_from(Activity)
                .where(Activity.account_id == account_id, Activity.state == state.value)
            ).one()
        )
    return counts


def _activity_query(
    query: Any, account_id: int, states: tuple[str, ...], kinds: tuple[str, ...]
) -> Any:
    query = query.where(Activity.account_id == account_id)
    if states:
        query = query.where(col(Activity.state).in_(states))
    if kinds:
        query = query.where(col(Activity.kind).in_(kinds))
    return query


def count_activities(
    *, session: Session, account_id: int, states: tuple[str, ...] = (), kinds: tuple[str, ...] = ()
) -> int:
    """How many activities match."""
    query = select(func.count()).select_from(Activity)
    return int(session.exec(_activity_query(query, account_id, states, kinds)).one())


def list_activities(
    *,
    session: Session,
    account_id: int,
    states: tuple[str, ...] = (),
    kinds: tuple[str, ...] = (),
    limit: int = 50,
    offset: int = 0,
    total: int | None = None,
) -> list[ActivityRow]:
    """One page of the account's activities, most recently recorded first.

    ``total`` is :func:`count_activities` for the same filters (see :func:`~sync_engine.services.queries.sql.page_ids`).
    """
    ids_query = _activity_query(select(Activity.id), account_id, states, kinds)
    ids = page_ids(session, ids_query, col(Activity.id), limit=limit, offset=offset, total=total)
    if not ids:
        return []
    query = (
        select(Activity, Contact.email, Sequence.name)
        .join(Enrollment, col(Enrollment.id) == col(Activity.enrollment_id))
        .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
        .join(Sequence, col(Sequence.id) == col(Enrollment.sequence_id))
        .where(col(Activity.id).in_(ids))
    )
    found = {
        activity.id: (activity, email, sequence)
        for activity, email, sequence in session.exec(query).all()
    }
    rows = []
    for activity, email, sequence in (found[i] for i in ids if i in found):
        rows.append(
            ActivityRow(
                activity_id=activity.id or 0,
                enrollment_id=activity.enrollment_id,
                occurred_at=activity.occurred_at,
                kind=activity.kind,
                subject=activity.subject,
                email=email,
                sequence=sequence,
                state=activity.state,
                reason_message=reason_message(activity.reason),
                attempts=activity.attempts,
                synced_at=activity.synced_at,
                last_error=activity.last_error,
            )
        )
    return rows


# --- sync log (B7) --------------------------------------------------------------------------


def list_engine_runs(
    *, session: Session, limit: int = 50, offset: int = 0, include_idle: bool = True
) -> list[EngineRun]:
    """Engine passes and scheduler events, newest first; optionally without idle passes."""
    query = select(EngineRun)
    if not include_idle:
        claimed = col(EngineRun.counts)["claimed"].as_integer()
        query = query.where((sa.func.coalesce(claimed, 0) > 0) | col(EngineRun.error).is_not(None))
    query = query.order_by(col(EngineRun.started_at).desc(), col(EngineRun.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


def list_api_calls(
    *,
    session: Session,
    account_id: int | None = None,
    errors_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[ApiCall]:
    """Recent Clockwork requests (secrets never stored), newest first."""
    query = select(ApiCall)
    if account_id is not None:
        query = query.where(ApiCall.account_id == account_id)
    if errors_only:
        query = query.where(
            col(ApiCall.error).is_not(None)
            | col(ApiCall.status).is_(None)
            | (col(ApiCall.status) >= 400)
        )
    query = query.order_by(col(ApiCall.at).desc(), col(ApiCall.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())


@dataclass(frozen=True)
class ApiCallStats:
    """Recent Clockwork traffic of an account in numbers."""

    calls: int
    errors: int
    rate_limited: int
    median_latency_ms: float | None


def api_call_stats(*, session: Session, account_id: int, since: datetime) -> ApiCallStats:
    """Calls, errors and 429s since ``since``, and an average latency (all in SQL)."""
    base = select(func.count()).select_from(ApiCall)
    base = base.where(ApiCall.account_id == account_id, col(ApiCall.at) >= since)
    calls = session.exec(base).one()
    errors = session.exec(
        base.where(col(ApiCall.status).is_(None) | (col(ApiCall.status) >= 400))
    ).one()
    limited = session.exec(base.where(ApiCall.status == 429)).one()
    latency = session.exec(
        select(func.avg(ApiCall.latency_ms)).where(
            ApiCall.account_id == account_id, col(ApiCall.at) >= since
        )
    ).one()
    return ApiCallStats(
        calls=int(calls),
        errors=int(errors),
        rate_limited=int(limited),
        median_latency_ms=float(latency) if latency is not None else None,
    )


# --- audit log (B11) ------------------------------------------------------------------------


def count_audit_entries(*, session: Session, account_id: int | None = None) -> int:
    """How many audit entries there are (for one account, or all)."""
    query = select(func.count()).select_from(AuditEntry)
    if account_id is not None:
        query = query.where(AuditEntry.account_id == account_id)
    return int(session.exec(query).one())


def account_names(*, session: Session) -> dict[int, str]:
    """Account id → name."""
    rows = session.exec(select(Account.id, Account.name)).all()
    return {a_id: name for a_id, name in rows if a_id is not None}


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as the Audit log shows it: in words, the stored entry alongside."""

    at: datetime
    who: str
    account: str
    what: str
    field: str
    old: str
    new: str
    entry: AuditEntry  # as stored, for the Technical details


_PROJECT_FIELDS = ("default_project_id", "project_id", "resync_project")


def audit_projects_needed(entries: list[AuditEntry]) -> set[int]:
    """The accounts whose project names the entries need (a project is named by its id)."""
    return {
        entry.account_id
        for entry in entries
        if entry.field in _PROJECT_FIELDS and entry.account_id is not None
    }


def audit_rows(
    *,
    session: Session,
    entries: list[AuditEntry],
    project_names: Mapping[int, Mapping[str, str]] | None = None,
) -> list[AuditRow]:
    """Audit entries in words: who, what (a sequence by its name, a contact by its email), the
    field and its old and new values as staff read them. ``project_names`` maps an account to
    its firm's projects (id → name), for the accounts :func:`audit_projects_needed` lists."""
    ids: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        if entry.entity_id and entry.entity_id.isdecimal():
            ids[entry.entity].add(int(entry.entity_id))
    subjects: dict[tuple[str, str], str] = {}
    if ids["sequence"]:
        for sequence_id, name in session.exec(
            select(Sequence.id, Sequence.name).where(col(Sequence.id).in_(ids["sequence"]))
        ).all():
            subjects["sequence", str(sequence_id)] = name
    if ids["contact"]:
        for contact_id, email in session.exec(
            select(Contact.id, Contact.email).where(col(Contact.id).in_(ids["contact"]))
        ).all():
            subjects["contact", str(contact_id)] = email
    if ids["enrollment"]:
        for enrollment_id, email, sequence in session.exec(
            select(Enrollment.id, Contact.email, Sequence.name)
            .join(Contact, col(Contact.id) == col(Enrollment.contact_id))
            .join(Sequence, col(Sequence.id) == col(Enrollment.sequence_id))
            .where(col(Enrollment.id).in_(ids["enrollment"]))
        ).all():
            subjects["enrollment", str(enrollment_id)] = f"{email} ({sequence})"
    accounts = account_names(session=session)
    reasons = {code: message for code, (message, _) in REASONS.items()}
    rows = []
    for entry in entries:
        words = wording.audit_words(
            entity=entry.entity,
            field=entry.field,
            old=entry.old_value,
            new=entry.new_value,
            subject=subjects.get((entry.entity, entry.entity_id or "")),
            projects=(project_names or {}).get(entry.account_id or 0, {}),
            status_words=STATUS_LABELS,
            reason_words=reasons,
        )
        rows.append(
            AuditRow(
                at=entry.at,
                who=wording.actor_words(entry.actor),
                account=accounts.get(entry.account_id or 0, ""),
                what=words.what,
                field=words.field,
                old=words.old,
                new=words.new,
                entry=entry,
            )
        )
    return rows

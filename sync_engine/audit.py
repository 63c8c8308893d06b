"""The audit log (SPEC B11): who changed which setting or credential, when, old → new.

Secrets are masked by the caller before they reach here. The log doubles as the history of
settings, which R5 needs to know whether tracking was on when a past activity happened.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from sync_engine.models import AuditEntry

SYSTEM_ACTOR = "system"


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def record_change(
    *,
    session: Session,
    at: datetime,
    actor: str,
    account_id: int | None,
    entity: str,
    entity_id: object,
    field: str,
    old: object,
    new: object,
) -> AuditEntry | None:
    """Append one audit entry when ``old`` and ``new`` differ; returns it (or None if unchanged)."""
    if _text(old) == _text(new):
        return None
    entry = AuditEntry(
        at=at,
        actor=actor or SYSTEM_ACTOR,
        account_id=account_id,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        field=field,
        old_value=_text(old),
        new_value=_text(new),
    )
    session.add(entry)
    return entry


def value_at(
    *, session: Session, account_id: int, entity: str, field: str, at: datetime, current: str | None
) -> str | None:
    """The value a logged field had at ``at``, reconstructed from the audit log.

    The first change after ``at`` tells what the value was before it; with no later change the
    value is still the current one.
    """
    later = session.exec(
        select(AuditEntry)
        .where(
            AuditEntry.account_id == account_id,
            AuditEntry.entity == entity,
            AuditEntry.field == field,
            AuditEntry.at > at,
        )
        .order_by(col(AuditEntry.at), col(AuditEntry.id))
        .limit(1)
    ).first()
    return later.old_value if later is not None else current


def list_entries(
    *, session: Session, account_id: int | None = None, limit: int = 200, offset: int = 0
) -> list[AuditEntry]:
    """Newest audit entries first, optionally for one account."""
    query = select(AuditEntry)
    if account_id is not None:
        query = query.where(AuditEntry.account_id == account_id)
    query = query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())

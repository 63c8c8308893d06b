"""The record of each ingest request: what the Integrations page lists, and for an accepted keyed
delivery its answer, so a platform's retry is answered as it was (:func:`stored_answer`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_engine.engine.statements import Prepared
from sync_engine.ingest.models import DeliveryOutcome, IngestDelivery
from sync_engine.models import table_of

DELIVERY_RETENTION = timedelta(days=7)

_DELIVERIES = table_of(IngestDelivery)


@dataclass(frozen=True)
class Delivery:
    """One request's record: what the log shows, and for an accepted keyed one, its answer."""

    account_id: int | None
    route: str
    outcome: DeliveryOutcome
    status_code: int
    received_at: datetime
    delivery_key: str | None = None
    token_id: int | None = None
    reason: str | None = None
    items: int = 0
    answer: dict[str, Any] | None = None

    def row(self) -> dict[str, Any]:
        """The delivery's columns."""
        return {
            "account_id": self.account_id,
            "route": self.route[:120],
            "outcome": self.outcome,
            "status_code": self.status_code,
            "received_at": self.received_at,
            "delivery_key": self.delivery_key,
            "token_id": self.token_id,
            "reason": self.reason[:500] if self.reason else None,
            "items": self.items,
            "answer": self.answer,
        }


# Built once: both run on every delivery.
_INSERT_DELIVERY = sa.insert(_DELIVERIES)
_ANSWER_BY_KEY = sa.select(_DELIVERIES.c.status_code, _DELIVERIES.c.answer).where(
    _DELIVERIES.c.account_id == sa.bindparam("account_id"),
    _DELIVERIES.c.delivery_key == sa.bindparam("delivery_key"),
)


def record_delivery(connection: sa.Connection | Session, delivery: Delivery) -> None:
    """Write a delivery's record; inside the work's transaction for an accepted keyed one, whose
    unique key then refuses a concurrent duplicate (:class:`sa.exc.IntegrityError`)."""
    bare_connection(connection).execute(_INSERT_DELIVERY, delivery.row())


def record_deliveries(connection: sa.Connection, deliveries: list[Delivery]) -> None:
    """Write the records of a group's deliveries in one statement (each unique key checked as
    when written one by one)."""
    if deliveries:
        connection.execute(_INSERT_DELIVERY, [delivery.row() for delivery in deliveries])


def bare_connection(connection: sa.Connection | Session) -> sa.Connection:
    """The bare connection under a session (flushed first, so it sees the session's changes):
    Core statements skip the ORM's execute path."""
    if isinstance(connection, Session):
        connection.flush()
        return connection.connection()
    return connection


def stored_answer(
    connection: sa.Connection | Session, *, account_id: int, delivery_key: str
) -> tuple[int, dict[str, Any]] | None:
    """The status and answer of an accepted delivery with this key, if there was one."""
    row = (
        bare_connection(connection)
        .execute(_ANSWER_BY_KEY, {"account_id": account_id, "delivery_key": delivery_key})
        .first()
    )
    if row is None:
        return None
    return int(row.status_code), dict(row.answer or {})


@functools.cache
def _answers_by_keys(size: int) -> Prepared:
    return Prepared(
        sa.select(_DELIVERIES.c.account_id, _DELIVERIES.c.delivery_key, _DELIVERIES.c.status_code,
                  _DELIVERIES.c.answer)
        .where(sa.or_(*(
            sa.and_(_DELIVERIES.c.account_id == sa.bindparam(f"account_id_{n}"),
                    _DELIVERIES.c.delivery_key == sa.bindparam(f"delivery_key_{n}"))
            for n in range(size)
        )))
    )  # fmt: skip


def stored_answers(
    connection: sa.Connection, keys: list[tuple[int, str]]
) -> dict[tuple[int, str], tuple[int, dict[str, Any]]]:
    """:func:`stored_answer` of several ``(account id, key)`` pairs, in one statement per 64."""
    found: dict[tuple[int, str], tuple[int, dict[str, Any]]] = {}
    for start in range(0, len(keys), 64):
        chunk = keys[start : start + 64]
        size = 1 << (len(chunk) - 1).bit_length()  # a power of two: few statements are built
        params: dict[str, Any] = {}
        for n in range(size):
            account_id, key = chunk[min(n, len(chunk) - 1)]
            params[f"account_id_{n}"], params[f"delivery_key_{n}"] = account_id, key
        for row in _answers_by_keys(size).run(connection, params):
            found[(row.account_id, row.delivery_key)] = (
                int(row.status_code),
                dict(row.answer or {}),
            )
    return found


def prune_deliveries(connection: sa.Connection, *, now: datetime) -> int:
    """Forget deliveries older than :data:`DELIVERY_RETENTION` (a platform retrying for longer
    than that is not seen as a retry); returns how many."""
    result = connection.execute(
        sa.delete(_DELIVERIES).where(_DELIVERIES.c.received_at < now - DELIVERY_RETENTION)
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as the Integrations page lists it."""

    id: int
    received_at: datetime
    route: str
    outcome: str
    status_code: int
    reason: str | None
    items: int
    token_id: int | None


def recent_deliveries(*, session: Session, account_id: int, limit: int = 50) -> list[DeliveryRow]:
    """An account's newest deliveries, newest first."""
    rows = session.exec(
        select(IngestDelivery)
        .where(IngestDelivery.account_id == account_id)
        .order_by(col(IngestDelivery.id).desc())
        .limit(limit)
    ).all()
    return [
        DeliveryRow(
            id=row.id or 0,
            received_at=row.received_at,
            route=row.route,
            outcome=row.outcome,
            status_code=row.status_code,
            reason=row.reason,
            items=row.items,
            token_id=row.token_id,
        )
        for row in rows
    ]

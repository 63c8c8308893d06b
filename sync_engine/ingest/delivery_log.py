"""The record of each ingest request: what the Integrations page lists, and for an accepted keyed
delivery its answer, so a platform's retry is answered as it was (:func:`stored_answer`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_engine.engine.statements import Prepared, array_rows
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


_DELIVERY_COLUMNS = (
    "account_id", "route", "outcome", "status_code", "received_at", "delivery_key", "token_id",
    "reason", "items", "answer",
)  # fmt: skip


class _PostgresqlStatements(NamedTuple):
    insert_deliveries: Prepared
    answers_by_keys: Prepared


@functools.cache
def _postgresql() -> _PostgresqlStatements:
    """PostgreSQL's statements, rows passed as arrays (``unnest``): one fixed statement whatever
    their number. Built at first use, so a SQLite process never imports the PostgreSQL dialect."""
    insert_deliveries = sa.insert(_DELIVERIES).from_select(
        _DELIVERY_COLUMNS,
        sa.select(
            array_rows("given", *((name, _DELIVERIES.c[name].type) for name in _DELIVERY_COLUMNS))
        ),
    )
    wanted = array_rows("wanted", ("account_id", sa.Integer()), ("delivery_key", sa.String()))
    answers_by_keys = sa.select(
        _DELIVERIES.c.account_id, _DELIVERIES.c.delivery_key, _DELIVERIES.c.status_code,
        _DELIVERIES.c.answer,
    ).join(
        wanted,
        sa.and_(
            _DELIVERIES.c.account_id == wanted.c.account_id,
            _DELIVERIES.c.delivery_key == wanted.c.delivery_key,
        ),
    )  # fmt: skip
    return _PostgresqlStatements(Prepared(insert_deliveries), Prepared(answers_by_keys))


def record_deliveries(connection: sa.Connection, deliveries: list[Delivery]) -> None:
    """Write the records of a group's deliveries in one statement (each unique key checked as
    when written one by one)."""
    if not deliveries:
        return
    rows = [delivery.row() for delivery in deliveries]
    if connection.dialect.name == "postgresql":
        _postgresql().insert_deliveries.run(
            connection, {f"{name}s": [row[name] for row in rows] for name in _DELIVERY_COLUMNS}
        )
    else:
        connection.execute(_INSERT_DELIVERY, rows)


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


_ANSWER_OF_KEY = Prepared(
    sa.select(
        _DELIVERIES.c.account_id, _DELIVERIES.c.delivery_key, _DELIVERIES.c.status_code,
        _DELIVERIES.c.answer,
    ).where(
        _DELIVERIES.c.account_id == sa.bindparam("account_id"),
        _DELIVERIES.c.delivery_key == sa.bindparam("delivery_key"),
    )
)  # fmt: skip


def stored_answers(
    connection: sa.Connection, keys: list[tuple[int, str]]
) -> dict[tuple[int, str], tuple[int, dict[str, Any]]]:
    """:func:`stored_answer` of several ``(account id, key)`` pairs: one statement on
    PostgreSQL, one per key on SQLite (in-process, where a statement costs no round trip)."""
    if not keys:
        return {}
    if connection.dialect.name == "postgresql":
        rows = _postgresql().answers_by_keys.run(
            connection,
            {"account_ids": [a for a, _k in keys], "delivery_keys": [k for _a, k in keys]},
        )
    else:
        rows = [
            row
            for account_id, key in keys
            for row in _ANSWER_OF_KEY.run(
                connection, {"account_id": account_id, "delivery_key": key}
            )
        ]
    return {
        (row.account_id, row.delivery_key): (int(row.status_code), dict(row.answer or {}))
        for row in rows
    }


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

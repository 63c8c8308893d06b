"""The single email events of one group commit, recorded together: a statement per table.

One event alone is three round trips to the store (its context, its activity, its enrollment's
re-queue). On PostgreSQL a group's plain events (by sequence and email, not a reply) are looked
up in one SELECT, inserted in one INSERT and re-queued in one UPDATE, their rows passed as arrays
(``unnest``): fixed statements, compiled once (:class:`~sync_engine.engine.statements.Prepared`)
and prepared by psycopg once, whatever the group's size. On SQLite, in-process, where a statement
costs no round trip, each event keeps its own prepared statements. Each event is judged as
:func:`service.record_one_event` judges it, with the same refusals and messages; a reply or an
event by enrollment id goes that ordinary way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import replacement_traverse
from sqlmodel import Session

from sync_engine.engine.statements import Prepared, array_rows
from sync_engine.ingest import service
from sync_engine.ingest.delivery_log import bare_connection
from sync_engine.ingest.models import IngestSequenceRef
from sync_engine.matching import normalize_email
from sync_engine.models import (
    Activity,
    ActivityKind,
    ActivityState,
    Contact,
    Enrollment,
    table_of,
)
from sync_engine.services.errors import InvalidInputError, NotFoundError
from sync_engine.services.events import (
    REQUEUE_FOR_NOTE,
    RecordedEvent,
    activity_columns,
    event_context_from,
    event_context_from_row,
    record_event,
)

Clock = Callable[[], datetime]

MAX_STATEMENT_ROWS = 1000  # rows per statement (a group holds at most 64)
_ACTIVITIES = table_of(Activity)
_COLUMNS = (
    "enrollment_id", "account_id", "kind", "occurred_at", "subject", "tracked", "activity_key",
    "state", "reason", "attempts",
)  # fmt: skip
_REQUEUE = Prepared(REQUEUE_FOR_NOTE)


_REFS, _CONTACTS, _ENROLLMENTS = (
    table_of(IngestSequenceRef), table_of(Contact), table_of(Enrollment)
)  # fmt: skip


class _PostgresqlPlan(NamedTuple):
    lookup: Prepared
    insert: Prepared
    requeue: Prepared


@functools.cache
def _postgresql() -> _PostgresqlPlan:
    """PostgreSQL's statements: they take the group's rows as arrays, so each is one fixed
    statement (prepared by psycopg once) whatever the group's size. Built at first use, so a
    SQLite process never imports the PostgreSQL dialect."""
    from sqlalchemy.dialects.postgresql import ARRAY

    wanted = array_rows(
        "wanted", ("n", sa.Integer()), ("account_id", sa.Integer()), ("ref", sa.String()),
        ("email", sa.String()), ("at", sa.DateTime(timezone=True)),
    )  # fmt: skip
    # Driven by the group's rows, each an index lookup of its sequence, contact and enrollment.
    lookup = event_context_from(
        wanted.join(
            _REFS, sa.and_(_REFS.c.account_id == wanted.c.account_id, _REFS.c.ref == wanted.c.ref)
        )
        .join(
            _CONTACTS,
            sa.and_(
                _CONTACTS.c.account_id == wanted.c.account_id,
                _CONTACTS.c.email == wanted.c.email,
            ),
        )
        .join(
            _ENROLLMENTS,
            sa.and_(
                _ENROLLMENTS.c.contact_id == _CONTACTS.c.id,
                _ENROLLMENTS.c.sequence_id == _REFS.c.sequence_id,
            ),
        ),
        wanted.c.at,
    ).add_columns(wanted.c.n)
    insert = (
        sa.insert(_ACTIVITIES)
        .from_select(
            _COLUMNS,
            sa.select(
                array_rows("given", *((name, _ACTIVITIES.c[name].type) for name in _COLUMNS))
            ),
        )
        .returning(_ACTIVITIES.c.id, _ACTIVITIES.c.activity_key)
    )

    def any_id(element: Any, **_kw: Any) -> Any:
        if isinstance(element, BindParameter) and element.key == "enrollment_id":
            return sa.any_(sa.bindparam("enrollment_ids", type_=ARRAY(sa.Integer())))
        return None

    requeue = cast(sa.Update, replacement_traverse(REQUEUE_FOR_NOTE, {}, any_id))
    return _PostgresqlPlan(Prepared(lookup), Prepared(insert), Prepared(requeue))


def batchable(event: Any) -> bool:
    """Whether an event can be recorded with the others of its group (not a reply, whose R1
    decision goes through the ORM, nor one named by enrollment id)."""
    return (
        isinstance(event, service.EventIn)
        and event.enrollment_id is None
        and bool(event.sequence)
        and bool(event.email)
        and event.kind != ActivityKind.REPLIED
    )


# SQLite (in-process: a statement costs no round trip): the single event's statements, once each.
_LOOKUP_ONE = Prepared(service.EVENT_CONTEXT_BY_REF_AND_EMAIL)
_INSERT_ONE = Prepared(
    sa.insert(_ACTIVITIES)
    .values({name: sa.bindparam(name, type_=_ACTIVITIES.c[name].type) for name in _COLUMNS})
    .returning(_ACTIVITIES.c.id, _ACTIVITIES.c.activity_key)
)


def record_together(
    *, session: Session, events: list[tuple[int, service.EventIn]], clock: Clock
) -> list[RecordedEvent | NotFoundError | InvalidInputError]:
    """Record ``(account id, event)`` pairs of :func:`batchable` events in the transaction of
    ``session``; per event its record, or why it was refused (nothing written for it)."""
    results: list[RecordedEvent | NotFoundError | InvalidInputError] = []
    for start in range(0, len(events), MAX_STATEMENT_ROWS):
        results += _record_chunk(session, events[start : start + MAX_STATEMENT_ROWS], clock)
    return results


def _record_chunk(
    session: Session, events: list[tuple[int, service.EventIn]], clock: Clock
) -> list[RecordedEvent | NotFoundError | InvalidInputError]:
    connection = bare_connection(session)  # flushed: the statements go past the session
    now = clock()
    outcome: dict[int, RecordedEvent | NotFoundError | InvalidInputError] = {}
    wanted: dict[int, dict[str, Any]] = {}
    for n, (account_id, event) in enumerate(events):
        at = event.occurred_at
        if at is not None and at.tzinfo is None:
            outcome[n] = InvalidInputError(
                "occurred_at needs a timezone, e.g. 2026-11-28T09:30:00Z"
            )
            continue
        if at is not None and now < at <= now + service.CLOCK_SKEW:
            at = now
        if len(event.subject) > 500:
            outcome[n] = InvalidInputError("subject is longer than 500 characters")
            continue
        assert event.email is not None
        wanted[n] = {"account_id": account_id, "ref": event.sequence,
                     "email": normalize_email(event.email), "at": at or now}  # fmt: skip
    rows = _context_rows(connection, wanted) if wanted else {}
    inserts: list[tuple[int, dict[str, Any]]] = []
    for n, params in wanted.items():
        account_id, event = events[n]
        at = params["at"]
        row = rows.get(n)
        try:
            if row is None:  # find_enrollment says what is missing
                enrollment_id = service.find_enrollment(
                    session=session, account_id=account_id, sequence_ref=event.sequence,
                    email=event.email, enrollment_id=None,
                )  # fmt: skip
                outcome[n] = record_event(
                    session=session, enrollment_id=enrollment_id, kind=event.kind, at=at,
                    subject=event.subject,
                )  # fmt: skip
                continue
            context = event_context_from_row(row, at)
            if at > now:
                raise InvalidInputError("an event cannot happen in the future")
        except (NotFoundError, InvalidInputError) as refused:
            outcome[n] = refused
            continue
        inserts.append((n, activity_columns(context, event.kind, at, event.subject)))
    if inserts:
        _write(session, connection, inserts, now, outcome)
    return [outcome[n] for n in range(len(events))]


def _context_rows(connection: sa.Connection, wanted: dict[int, dict[str, Any]]) -> dict[int, Any]:
    """Each wanted event's context row, by its place in the chunk, in one statement."""
    if connection.dialect.name == "postgresql":
        arrays: dict[str, list[Any]] = {"ns": list(wanted)}
        for values in wanted.values():
            for name, value in values.items():
                arrays.setdefault(f"{name}s", []).append(value)
        found: dict[int, Any] = {}
        for row in _postgresql().lookup.run(connection, arrays):
            found.setdefault(row.n, row)  # one enrollment per contact and sequence, as alone
        return found
    found = {}
    for n, params in wanted.items():
        for row in _LOOKUP_ONE.run(connection, params):
            found.setdefault(n, row)
    return found


def _write(
    session: Session, connection: sa.Connection, inserts: list[tuple[int, dict[str, Any]]],
    now: datetime, outcome: dict[int, Any],
) -> None:  # fmt: skip
    """Insert the activities in one statement and re-queue their enrollments in one more."""
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        params = {f"{name}s": [columns[name] for _n, columns in inserts] for name in _COLUMNS}
        rows = _postgresql().insert.run(connection, params)
    else:
        rows = [row for _n, columns in inserts for row in _INSERT_ONE.run(connection, columns)]
    ids = {row.activity_key: row.id for row in rows}
    requeue: set[int] = set()
    for n, columns in inserts:
        outcome[n] = RecordedEvent(id=ids[columns["activity_key"]], **columns)
        if columns["state"] == ActivityState.PENDING:
            requeue.add(columns["enrollment_id"])
    if requeue and postgresql:
        _postgresql().requeue.run(connection, {"enrollment_ids": sorted(requeue), "due": now})
    elif requeue:
        _REQUEUE.run_many(
            connection,
            [{"enrollment_id": enrollment_id, "due": now} for enrollment_id in sorted(requeue)],
        )
    for enrollment_id in requeue:
        loaded = session.identity_map.get(session.identity_key(Enrollment, enrollment_id))
        if loaded is not None:  # the update went past the session
            session.expire(loaded, ["next_attempt_at"])

"""The API call log (SPEC B7): the calls a pass made, written at once and bounded to retention."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from sync_engine.clockwork.client import CallRecord
from sync_engine.db import Database
from sync_engine.engine.statements import Prepared, transaction
from sync_engine.models import ApiCall, ClockworkConnection, UTCDateTime, table_of

_API_CALL, _CONNECTION = table_of(ApiCall), table_of(ClockworkConnection)

# Plain rows in one executemany on the DBAPI cursor: a pass writes one per request it made.
_INSERT = Prepared(
    sa.insert(_API_CALL)
    .inline()  # no primary key back (PostgreSQL would otherwise ask for it)
    .values(
        account_id=sa.bindparam("account_id", type_=sa.Integer),
        at=sa.bindparam("at", type_=UTCDateTime),
        method=sa.bindparam("method", type_=sa.String),
        path=sa.bindparam("path", type_=sa.String),
        status=sa.bindparam("status", type_=sa.Integer),
        latency_ms=sa.bindparam("latency_ms", type_=sa.Float),
        error=sa.bindparam("error", type_=sa.String),
    )
)
_LAST_SUCCESS = Prepared(
    sa.update(_CONNECTION)
    .where(_CONNECTION.c.account_id == sa.bindparam("success_account"))
    .values(last_success_at=sa.bindparam("success_at", type_=UTCDateTime))
)
# On PostgreSQL the rows go in by COPY: a fraction of an INSERT's client work per row.
_COLUMNS = ("account_id", "at", "method", "path", "status", "latency_ms", "error")
_COPY = f"COPY api_call ({', '.join(_COLUMNS)}) FROM STDIN"
_NEWEST = Prepared(sa.select(sa.func.max(_API_CALL.c.id)))
_TRIM = Prepared(sa.delete(_API_CALL).where(_API_CALL.c.id <= sa.bindparam("cutoff")))


def write_calls(db: Database, calls: list[tuple[int, CallRecord]], retention: int) -> None:
    """Store ``calls`` (account id, call), keep the newest ``retention`` rows, and note each
    account's latest successful call on its connection."""
    if not calls:
        return
    last_success: dict[int, datetime] = {}
    rows: list[tuple[object, ...]] = []  # in _COLUMNS' order
    for account_id, call in calls[-retention:]:
        if call.at.tzinfo is None:  # COPY would read it in the server's zone
            raise ValueError("naive call time: pass an aware datetime")
        error = call.error[:500] if call.error else None
        rows.append((account_id, call.at, call.method, call.path_template, call.status,
                     call.latency_ms, error))  # fmt: skip
        if call.status is not None and call.status < 400:
            last_success[account_id] = max(last_success.get(account_id, call.at), call.at)
    with transaction(db) as tx:
        if db.is_sqlite:
            _INSERT.run_many(tx, [dict(zip(_COLUMNS, row, strict=True)) for row in rows])
        else:
            with tx.cursor().copy(_COPY) as copy:
                for row in rows:
                    copy.write_row(row)
        if last_success:
            _LAST_SUCCESS.run_many(
                tx,
                [{"success_account": a, "success_at": at} for a, at in last_success.items()],
            )
        ((newest,),) = _NEWEST.run(tx, {})
        if newest is not None and newest > retention:
            _TRIM.run(tx, {"cutoff": newest - retention})

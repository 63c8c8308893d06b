"""The API call log (SPEC B7): the calls a pass made, written at once and bounded to retention."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from sync_engine.clockwork.client import CallRecord
from sync_engine.db import Database
from sync_engine.models import ApiCall, ClockworkConnection, table_of


def write_calls(db: Database, calls: list[tuple[int, CallRecord]], retention: int) -> None:
    """Store ``calls`` (account id, call), keep the newest ``retention`` rows, and note each
    account's latest successful call on its connection."""
    if not calls:
        return
    last_success: dict[int, datetime] = {}
    rows: list[dict[str, object]] = []
    for account_id, call in calls[-retention:]:
        rows.append(
            {
                "account_id": account_id,
                "at": call.at,
                "method": call.method,
                "path": call.path_template,
                "status": call.status,
                "latency_ms": call.latency_ms,
                "error": call.error[:500] if call.error else None,
            }
        )
        if call.status is not None and call.status < 400:
            last_success[account_id] = max(last_success.get(account_id, call.at), call.at)
    with db.write() as session:
        # Plain rows in one executemany: no ORM object and unit-of-work entry per call.
        session.execute(sa.insert(table_of(ApiCall)), rows)
        for account_id, at in last_success.items():
            session.execute(
                sa.update(ClockworkConnection)
                .where(col(ClockworkConnection.account_id) == account_id)
                .values(last_success_at=at)
            )
        session.flush()
        newest = session.exec(select(sa.func.max(ApiCall.id))).one() or 0
        session.execute(sa.delete(ApiCall).where(col(ApiCall.id) <= newest - retention))

"""The paces engines learned for firms whose limit is not told, kept in the store per account.

A firm that moves to another engine (a member joined or left) starts there at the pace its
previous engine learned from its 429s instead of learning it again, drawing 429s meanwhile.
An engine writes what its pacers learned at most every ``SAVE_SECONDS`` and only the paces that
moved by more than ``CHANGE`` since it last wrote them, never per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from sync_engine.db import Database
from sync_engine.engine.lanes import Lane
from sync_engine.models import FirmPace, UTCDateTime, table_of

log = logging.getLogger(__name__)

SAVE_SECONDS = 3.0
CHANGE = 0.02  # a pace within this share of the one last written is not written again

_PACE = table_of(FirmPace)


def recall(session: Session, account_id: int) -> tuple[float, float] | None:
    """The (rate, ceiling) last learned for the account's firm by any engine, if any."""
    row = session.get(FirmPace, account_id)
    return (row.rate, row.ceiling) if row is not None else None


class PaceBook:
    """Writes one engine's learned paces to the store, now and then."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._written: dict[int, tuple[float, float]] = {}
        self._written_at = float("-inf")

    def save(self, lanes: Mapping[int, Lane], *, now: bool = False) -> None:
        """Write the paces that changed, unless the last write was under ``SAVE_SECONDS`` ago
        (``now``: whatever the time, e.g. as the pass ends)."""
        if not now and time.monotonic() - self._written_at < SAVE_SECONDS:
            return
        self._written_at = time.monotonic()
        changed = {}
        for account_id, lane in lanes.items():
            learned = lane.pacer.learned()
            if learned is not None and _moved(self._written.get(account_id), learned):
                changed[account_id] = learned
        if not changed:
            return
        try:
            with self.db.transaction() as connection:
                stamp = self.db.clock()
                rows = [{"account_id": a, "rate": r, "ceiling": c, "updated_at": stamp}
                        for a, (r, c) in changed.items()]  # fmt: skip
                connection.execute(_upsert(connection.dialect.name), rows)
        except Exception:  # a pace is an optimisation: the next write tries again
            log.exception("could not store the learned paces of %d firms", len(changed))
            return
        self._written.update(changed)


def _moved(before: tuple[float, float] | None, after: tuple[float, float]) -> bool:
    if before is None:
        return True
    return any(abs(a - b) > CHANGE * b for a, b in zip(after, before, strict=True))


def _upsert(dialect: str) -> sa.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_PACE).values(
        account_id=sa.bindparam("account_id"),
        rate=sa.bindparam("rate"),
        ceiling=sa.bindparam("ceiling"),
        updated_at=sa.bindparam("updated_at", type_=UTCDateTime),
    )
    return statement.on_conflict_do_update(
        index_elements=[_PACE.c.account_id],
        set_={
            "rate": statement.excluded.rate,
            "ceiling": statement.excluded.ceiling,
            "updated_at": statement.excluded.updated_at,
        },
    )

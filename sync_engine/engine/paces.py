"""The paces engines learned for firms whose limit is not told, kept in the store per account.

A firm that moves to another engine (a member joined or left) starts there at the pace its
previous engine learned from its 429s instead of learning it again, drawing 429s meanwhile.
An engine writes a firm's pace as soon as it is first learned (the firm may be moving to
another engine just then), then at most every ``SAVE_SECONDS`` and only when it moved by more
than ``CHANGE``, never per request.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Collection, Mapping

import sqlalchemy as sa
from sqlmodel import Session

from sync_engine.db import Database, upsert_insert
from sync_engine.engine.lanes import Lane
from sync_engine.models import FirmPace, UTCDateTime, table_of

log = logging.getLogger(__name__)

SAVE_SECONDS = 3.0
LOOK_SECONDS = 0.5  # how often the lanes are looked at for paces to write
CHANGE = 0.02  # a pace within this share of the one last written is not written again

_PACE = table_of(FirmPace)


def recall_many(session: Session, account_ids: Collection[int]) -> dict[int, tuple[float, float]]:
    """The (rate, ceiling) last learned by any engine for each of these accounts' firms, for
    those with one: one query."""
    if not account_ids:
        return {}
    query = sa.select(_PACE.c.account_id, _PACE.c.rate, _PACE.c.ceiling).where(
        _PACE.c.account_id.in_(account_ids)
    )
    return {account_id: (rate, ceiling) for account_id, rate, ceiling in session.execute(query)}


class PaceBook:
    """Writes one engine's learned paces to the store, now and then."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self._clock = clock
        self._written: dict[int, tuple[float, float, float]] = {}  # rate, ceiling, when
        self._looked_at = float("-inf")

    def save(self, lanes: Mapping[int, Lane], *, now: bool = False) -> None:
        """Write the paces learned since the last look: a firm's first at once, a change once
        its last write is ``SAVE_SECONDS`` old (``now``: whatever the time, as the pass ends)."""
        at = self._clock()
        if not now and at - self._looked_at < LOOK_SECONDS:
            return
        self._looked_at = at
        changed = {}
        for account_id, lane in lanes.items():
            learned = lane.pacer.learned()
            before = self._written.get(account_id)
            if learned is None or (before is not None and not _moved(before, learned)):
                continue
            if before is None or now or at - before[2] >= SAVE_SECONDS:
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
        self._written.update({a: (*pace, at) for a, pace in changed.items()})


def _moved(before: tuple[float, float, float], after: tuple[float, float]) -> bool:
    return any(abs(a - b) > CHANGE * b for a, b in zip(after, before[:2], strict=True))


@functools.cache  # one statement per dialect, built once
def _upsert(dialect: str) -> sa.Insert:
    insert = upsert_insert(dialect)
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

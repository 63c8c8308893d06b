"""What the query modules share about the store: which dialect, paging by index, aware times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session


def is_sqlite(session: Session) -> bool:
    """Whether the session's store is SQLite (some queries reach its indexes another way)."""
    return session.get_bind().dialect.name == "sqlite"


def page_ids(
    session: Session, ids: Any, id_column: Any, *, limit: int, offset: int, total: int | None
) -> list[int]:
    """The ids of one page, newest first, read from an index before any row is fetched.

    With ``total`` known, a page past the middle is read from the oldest end (ascending, with
    the smaller offset) and reversed, so the last page costs what the first does and no page
    skips more than half of the matches.
    """
    if total is not None and offset > total // 2:
        count = min(limit, total - offset)
        if count <= 0:
            return []
        query = ids.order_by(id_column.asc()).offset(total - offset - count).limit(count)
        return list(reversed(session.exec(query).all()))
    return list(session.exec(ids.order_by(id_column.desc()).offset(offset).limit(limit)).all())


def aware(moment: Any) -> datetime | None:
    """A timestamp from an aggregate (SQLite returns text or naive values) as aware UTC."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def latest(*moments: datetime | None) -> datetime | None:
    """The newest of the known moments (None when none is known)."""
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None

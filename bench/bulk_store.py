"""Fresh stores for the dashboard benches and bulk writes into them, on SQLite or PostgreSQL.

:func:`open_store` makes an empty store: a temporary SQLite file, or a PostgreSQL database made
from an admin URL by :mod:`tests.postgres` (the one helper for throwaway databases). A
:class:`Loader` appends rows to a migrated store through the driver's ``executemany`` in chunked
transactions on SQLite, with ``COPY`` on PostgreSQL, and gathers statistics at the end.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.postgres
from sync_engine.db import Database
from tests import postgres

SERIAL_TABLES = (
    "account", "clockwork_connection", "sequence", "contact", "enrollment", "activity",
    "sync_attempt", "engine_run", "api_call", "audit_entry",
)  # fmt: skip
EPOCH_NAIVE = datetime(1970, 1, 1)
EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Store:
    """A fresh, empty store of one backend and how to remove it."""

    backend: str
    url: str
    cleanup: Callable[[], None]


def open_store(backend: str, *, admin_url: str | None, workdir: Path) -> Store:
    """A temporary SQLite file, or a new PostgreSQL database created from the admin URL."""
    if backend == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"

        def remove_file() -> None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return Store(backend, f"sqlite:///{path}", remove_file)
    assert admin_url is not None
    name, url = postgres.create_database(admin_url, "cwsync_bench")
    return Store(backend, url, lambda: postgres.drop_database(admin_url, name))


class Loader:
    """Bulk writes into a migrated store: the driver's executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.sqlite = db.is_sqlite
        self._pooled = db.engine.raw_connection()
        self.raw: Any = self._pooled.driver_connection
        self.rows: dict[str, int] = {}
        if self.sqlite:
            # The connect hook left the driver in autocommit mode; transactions are explicit here.
            self.raw.execute("PRAGMA synchronous=OFF")
            self.raw.execute("PRAGMA cache_size=-262144")
            self.raw.execute("BEGIN")

    def stamp(self, epoch: int) -> Any:
        """A timestamp as the column type stores it (SQLite: SQLAlchemy's naive-UTC text form)."""
        if self.sqlite:
            return (EPOCH_NAIVE + timedelta(seconds=epoch)).isoformat(" ", "microseconds")
        return EPOCH_UTC + timedelta(seconds=epoch)

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        """Append ``rows`` (tuples in ``columns`` order) to ``table``."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            self.raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
        else:
            with (
                self.raw.cursor() as cursor,
                cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        self.rows[table] = self.rows.get(table, 0) + len(rows)

    def commit(self) -> None:
        """End the current chunk's transaction."""
        if self.sqlite:
            self.raw.execute("COMMIT")
            self.raw.execute("BEGIN")
        else:
            self.raw.commit()

    def finish(self, *, analyze: bool = True) -> None:
        """Commit, fix the id sequences, release the connection; PostgreSQL: VACUUM (ANALYZE)."""
        if self.sqlite:
            self.raw.execute("COMMIT")
            self.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            with self.raw.cursor() as cursor:
                for table in SERIAL_TABLES:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
            self.raw.commit()
            self.raw.autocommit = True
            self.raw.execute("VACUUM (ANALYZE)")
            self.raw.autocommit = False
        self._pooled.close()


def progress(message: str) -> None:
    """A line on stderr, at once (generating a large store takes minutes)."""
    print(message, file=sys.stderr, flush=True)

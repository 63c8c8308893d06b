"""Database engines and sessions: SQLite tuned for one writer and many readers, or PostgreSQL.

SQLite gets WAL, a busy timeout and foreign keys on every connection, and writes open their
transaction with ``BEGIN IMMEDIATE`` (Python 3.11's sqlite3 needs SQLAlchemy's event-hook recipe:
the driver's own transaction handling is switched off and the ``begin`` event emits BEGIN itself).
A new SQLite file is created readable by its owner only (0600, in a 0700 directory when that is
new too); SQLite gives its ``-wal`` and ``-shm`` files the same mode.
Schema changes go through Alembic only (:func:`migrate`), never ``create_all``; Alembic is imported
only when a migration must run (a store at head is told by one query, at every start-up).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session

from sync_engine.domain import Clock, utcnow

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.dialects import postgresql, sqlite

# The newest migration's revision (a test holds it to the scripts' head): a store at it needs no
# migration, and start-up learns that without importing Alembic or parsing the scripts.
HEAD_REVISION = "0012_firm_pace"
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_ANALYSIS_ROWS = 1000  # rows ANALYZE samples per index at start-up
# A pooled PostgreSQL connection idle longer than this is pinged before use (see _ping_after_idle).
PING_AFTER_IDLE_SECONDS = 2.0


class Database:
    """One store: an engine for reads, the same pool for writes, and session context managers.

    Every session it opens carries the store's clock (:func:`clock_of`), so a service that
    stamps a time reads it from its session and no caller passes a clock.
    """

    def __init__(self, url: str, *, echo: bool = False, clock: Clock = utcnow) -> None:
        self.url = url
        self.clock = clock
        self.engine = _create_engine(url, echo=echo)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # On SQLite, a write transaction takes the write lock up front (no upgrade deadlocks).
        self._write_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.is_sqlite
            else self.engine
        )

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; nothing it does is committed."""
        with Session(self.engine, expire_on_commit=False, info={_CLOCK: self.clock}) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A short write transaction: committed on success, rolled back on error."""
        with (
            Session(
                self._write_engine, expire_on_commit=False, info={_CLOCK: self.clock}
            ) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A short write transaction on a bare connection, for Core statements only: no ORM
        session to build and flush (the engine's hot path runs a few per request)."""
        with self._write_engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


_CLOCK = "clock"


def clock_of(session: Session) -> Clock:
    """The clock of the store ``session`` belongs to (real time for a session of no
    :class:`Database`)."""
    return cast(Clock, session.info.get(_CLOCK, utcnow))


def upsert_insert(dialect: str) -> Callable[[sa.Table], postgresql.Insert | sqlite.Insert]:
    """The INSERT of ``dialect`` (PostgreSQL's, else SQLite's) that takes ON CONFLICT clauses;
    only that dialect's module is imported (PostgreSQL's takes tens of ms, at every start-up)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _create_engine(url: str, *, echo: bool) -> sa.Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # At most 20 connections, all kept open: an overflow connection is closed on return, and
        # the engine's workers, more than 10 at once, then paid a new connection over and over.
        engine = sa.create_engine(url, echo=echo, pool_size=20, max_overflow=0)
        _ping_after_idle(engine)
        return engine

    database = parsed.database
    # A URI (uri=true) is SQLite's to open: it is not a path, and mode=ro must create nothing.
    is_uri = parsed.query.get("uri") in ("true", "1")
    if database and database != ":memory:" and not is_uri:
        _create_private_file(Path(database))
    engine = sa.create_engine(
        url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin event owns BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _ping_after_idle(engine: sa.Engine) -> None:
    """Check a pooled connection with a round trip only when it sat idle in the pool longer than
    ``PING_AFTER_IDLE_SECONDS`` (a server restart or an idle timeout may have closed it): the
    engine checks connections out several times per request, and a ping each time cost more
    than the statements they ran. A connection dropped within that window fails its statement
    once and is then discarded (:func:`sync_engine.engine.statements.transaction`, SQLAlchemy's
    own disconnect handling)."""

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is not None and time.monotonic() - checked_in < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            if not engine.dialect.is_disconnect(exc, dbapi_connection, None):  # type: ignore[arg-type]
                raise
            alive = False
        if not alive:  # the pool discards it and connects again
            raise sa.exc.DisconnectionError("the pooled connection was closed")


_CHECKED_IN = "cwsync_checked_in"


def _create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (SQLite would make it 0644)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and at ``url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("sync_engine") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# Search structures that only one backend has (migration 0004): an FTS5 table with its shadow
# tables and triggers on SQLite, trigram and pattern indexes on PostgreSQL. They are not in the
# models' metadata, so autogenerate and ``alembic check`` must leave them alone. A batch migration
# that recreates the contact table on SQLite drops the triggers: recreate them after it.
SEARCH_OBJECTS = ("contact_search", "ix_contact_email_trgm", "ix_contact_name_trgm",
                  "ix_contact_email_pattern")  # fmt: skip


def outside_the_models(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's ``include_object`` hook: compare everything but the search structures."""
    return not (reflected and compare_to is None and (name or "").startswith(SEARCH_OBJECTS))


# The key of the PostgreSQL advisory lock that migrating processes take (any constant of ours).
MIGRATION_LOCK = 0x6377_7379_6E63  # "cwsync"

_STORED_REVISION = "SELECT version_num FROM alembic_version"


def stored_revision(connection: sa.Connection) -> str | None:
    """The revision the store is at, from Alembic's ``alembic_version`` table (None when the
    store was never migrated).

    One statement, the table's absence told by its error; inside a PostgreSQL transaction the
    caller opened, which that error would abort, the catalog is asked first.
    """
    began = not connection.in_transaction()
    postgresql_transaction = not began and connection.dialect.name == "postgresql"
    if postgresql_transaction and not sa.inspect(connection).has_table("alembic_version"):
        return None
    try:
        return cast(str | None, connection.exec_driver_sql(_STORED_REVISION).scalar())
    except sa.exc.DBAPIError as exc:
        if not _no_such_table(exc):
            raise
        if began:  # end the transaction the statement began (aborted, on PostgreSQL)
            connection.rollback()
        return None


def _no_such_table(error: sa.exc.DBAPIError) -> bool:
    """Whether ``error`` says the statement's table does not exist (SQLite, PostgreSQL)."""
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if code == "42P01":  # PostgreSQL's undefined_table (psycopg 3; psycopg2 calls it pgcode)
        return True
    return isinstance(error, sa.exc.OperationalError) and "no such table" in str(error.orig)


def migrate(database: Database) -> None:
    """Bring the schema to the newest revision and refresh SQLite's planner statistics
    (idempotent; run at every start-up)."""
    with database.engine.connect() as connection:
        at_head = stored_revision(connection) == HEAD_REVISION
    if not at_head:
        # Write transactions from the start (SQLite's lock taken up front, PostgreSQL's advisory
        # lock): processes starting together on one store wait for each other instead of failing
        # with "database is locked" or both creating the tables; the one that waited finds the
        # store migrated.
        with migration_transaction(database) as connection:
            if stored_revision(connection) != HEAD_REVISION:
                _upgrade(connection, database.url)
    if database.is_sqlite:
        # SQLite keeps no statistics by itself and without them plans full scans for the
        # dashboard's paged queries; a sampled ANALYZE (analysis_limit) gives the same plans as a
        # full one. Not on the FTS5 tables: statistics there make FTS5's own lookups scan.
        with database.transaction() as connection:
            connection.exec_driver_sql(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_ROWS}")
            tables = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).scalars()
            for table in [t for t in tables if not t.startswith(SEARCH_OBJECTS)]:
                connection.exec_driver_sql(f'ANALYZE "{table}"')
            if connection.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
            ).first():
                connection.exec_driver_sql(
                    "DELETE FROM sqlite_stat1 WHERE tbl LIKE 'contact\\_search%' ESCAPE '\\'"
                )


@contextmanager
def migration_transaction(database: Database) -> Iterator[sa.Connection]:
    """A transaction that one migrating process holds at a time: SQLite's write lock taken up
    front; on PostgreSQL an advisory lock, under READ COMMITTED whatever the server's default, so
    the process that waited for it reads the ``alembic_version`` the other one committed."""
    if database.is_sqlite:
        with database.transaction() as connection:
            yield connection
        return
    committed = database.engine.execution_options(isolation_level="READ COMMITTED")
    with committed.begin() as connection:
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        yield connection


def _upgrade(connection: sa.Connection, url: str) -> None:
    """Run Alembic's upgrade to head on ``connection`` (in the caller's transaction)."""
    from alembic import command

    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")

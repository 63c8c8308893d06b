"""The store on both backends: migrations match the models, timestamps stay UTC, SQLite tuning."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import alembic.command
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel, select

import sync_engine.db as db_module
from sync_engine.db import Database, alembic_config, clock_of, migrate, outside_the_models
from sync_engine.models import Account, AuditEntry
from sync_engine.services.accounts import create_account
from tests import postgres


def test_migrations_produce_exactly_the_models_schema(database_url: str) -> None:
    database = Database(database_url)
    with database.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": outside_the_models}
        )
        diff = compare_metadata(context, SQLModel.metadata)
    database.dispose()
    assert diff == []


def test_migrate_brings_an_empty_store_to_head_and_leaves_a_store_at_head_to_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'new.db'}")
    migrate(database)
    head = ScriptDirectory.from_config(alembic_config(database.url)).get_current_head()
    with database.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
    upgrades: list[object] = []
    monkeypatch.setattr(alembic.command, "upgrade", lambda *args: upgrades.append(args))
    migrate(database)  # every start-up: nothing for Alembic to do, so it is not asked
    database.dispose()
    assert upgrades == []


def test_the_head_revision_in_code_is_the_newest_migration() -> None:
    # A new migration must bump HEAD_REVISION, or start-up would take a store at the old head
    # for one at head and never migrate it.
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = scripts.get_current_head()
    assert head == db_module.HEAD_REVISION, f"set HEAD_REVISION in sync_engine/db.py to {head!r}"


def test_a_store_at_head_is_told_by_its_version_row_on_both_backends(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(database_url)  # migrated by the fixture
    with database.engine.connect() as conn:
        assert db_module.stored_revision(conn) == db_module.HEAD_REVISION
    upgrades: list[object] = []
    monkeypatch.setattr(alembic.command, "upgrade", lambda *args: upgrades.append(args))
    migrate(database)
    database.dispose()
    assert upgrades == []


def test_a_store_at_head_is_told_by_one_statement_on_both_backends(database_url: str) -> None:
    database = Database(database_url)
    with database.engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")  # the dialect's first-connect queries, not counted
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", seen)
    with database.engine.connect() as conn:
        assert db_module.stored_revision(conn) == db_module.HEAD_REVISION
    database.dispose()
    assert [s for s in statements if not s.startswith("BEGIN")] == [
        "SELECT version_num FROM alembic_version"
    ]


def test_a_store_never_migrated_has_no_revision_and_the_callers_transaction_goes_on(
    database_url: str,
) -> None:
    database = Database(database_url)
    with database.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")  # as before the first migration
    with database.engine.connect() as conn:  # no transaction open: the statement begins one
        assert db_module.stored_revision(conn) is None
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    with database.engine.begin() as conn:  # in the caller's transaction, which stays usable
        conn.exec_driver_sql("CREATE TABLE kept (n INTEGER)")
        assert db_module.stored_revision(conn) is None
        conn.exec_driver_sql("INSERT INTO kept (n) VALUES (1)")
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT n FROM kept").scalar() == 1
    database.dispose()


def test_a_store_behind_head_is_upgraded_and_its_revision_read_with_plain_sql(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    with database.engine.begin() as conn:
        assert db_module.stored_revision(conn) is None  # never migrated
        config = alembic_config(database.url)
        config.attributes["connection"] = conn
        alembic.command.upgrade(config, "0011_audit_history_index")
    with database.engine.connect() as conn:
        assert db_module.stored_revision(conn) == "0011_audit_history_index"
    migrate(database)
    with database.engine.connect() as conn:
        assert db_module.stored_revision(conn) == db_module.HEAD_REVISION
        assert MigrationContext.configure(conn).get_current_revision() == db_module.HEAD_REVISION
    database.dispose()


def _open_together(url: str, *, processes: int = 4) -> list[BaseException]:
    """``migrate`` run at once by several stores on ``url`` (threads with their own pools, as
    processes starting together); what each raised."""
    stores = [Database(url) for _ in range(processes)]
    start = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def open_store(database: Database) -> None:
        start.wait()
        try:
            migrate(database)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=open_store, args=(d,)) for d in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for database in stores:
        database.dispose()
    return errors


def test_engines_starting_together_on_one_sqlite_store_all_open_it(tmp_path: Path) -> None:
    """A dashboard and ``cwsync sync`` runs starting at once on one SQLite file, new or at head:
    none fails with "database is locked" (a read transaction that then writes cannot wait for
    the lock: SQLite refuses it at once)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    for _round in range(3):  # the first round migrates a new store, the others one at head
        assert _open_together(url) == []


@pytest.mark.postgres
def test_engines_starting_together_on_a_new_postgresql_store_migrate_it_once(
    _postgres_template: tuple[str, str],
) -> None:
    """Also when the server's default isolation is REPEATABLE READ: the process that waited for
    the lock must still see the revision the first one committed, not run the scripts again."""
    admin_url, _template = _postgres_template
    with postgres.fresh_database(admin_url, "cwsync_together") as url:
        name = sa.make_url(url).database
        postgres.admin_sql(
            admin_url,
            f"ALTER DATABASE {name} SET default_transaction_isolation = 'repeatable read'",
        )
        assert _open_together(url) == []
        database = Database(url)
        with database.engine.connect() as connection:
            assert db_module.stored_revision(connection) == db_module.HEAD_REVISION
        database.dispose()


def test_timestamps_are_stored_in_utc_and_read_back_aware(database_url: str) -> None:
    database = Database(database_url)
    paris = timezone(timedelta(hours=1))
    with database.write() as session:
        session.add(Account(name="Acme", created_at=datetime(2026, 1, 5, 10, 0, tzinfo=paris)))
    with database.read() as session:
        account = session.exec(select(Account)).one()
    database.dispose()
    assert account.created_at == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert account.created_at.tzinfo is not None


def test_naive_timestamps_are_refused(database_url: str) -> None:
    database = Database(database_url)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), database.write() as session:
        session.add(Account(name="Naive", created_at=datetime(2026, 1, 5, 10, 0)))
    database.dispose()


def test_failed_write_transaction_leaves_nothing_behind(database_url: str) -> None:
    database = Database(database_url)
    with pytest.raises(RuntimeError), database.write() as session:
        session.add(Account(name="Half done"))
        session.flush()
        raise RuntimeError("boom")
    with database.read() as session:
        assert session.exec(select(Account)).all() == []
    database.dispose()


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.dispose()


def test_sqlite_write_takes_the_lock_up_front_while_readers_keep_reading(sqlite_url: str) -> None:
    """BEGIN IMMEDIATE: a second writer waits for the first; a reader is never blocked."""
    database = Database(sqlite_url)
    order: list[str] = []
    first_has_lock = threading.Event()
    release_first = threading.Event()

    def first_writer() -> None:
        with database.write() as session:
            session.add(AuditEntry(at=datetime.now(UTC), actor="a", entity="x", field="f"))
            session.flush()
            first_has_lock.set()
            release_first.wait(5)
            order.append("first committed")

    def second_writer() -> None:
        first_has_lock.wait(5)
        with database.write() as session:
            session.connection()  # the transaction (and BEGIN IMMEDIATE) starts here
            order.append("second began")
            session.add(AuditEntry(at=datetime.now(UTC), actor="b", entity="x", field="f"))

    threads = [threading.Thread(target=first_writer), threading.Thread(target=second_writer)]
    for thread in threads:
        thread.start()
    first_has_lock.wait(5)
    with (
        database.read() as session
    ):  # WAL: readers see the last commit while a writer holds the lock
        assert session.exec(select(AuditEntry)).all() == []
    release_first.set()
    for thread in threads:
        thread.join(10)
    database.dispose()
    assert order == ["first committed", "second began"]


def test_sqlite_start_up_gathers_statistics_but_not_on_the_search_index(tmp_path: Path) -> None:
    # Statistics on FTS5's shadow tables make its own lookups scan: each contact added would
    # then cost time in proportion to the contacts already there.
    database = Database(f"sqlite:///{tmp_path / 'stats.db'}")
    migrate(database)
    with database.write() as session:
        session.add(Account(name="Acme"))
    migrate(database)  # the next start-up
    with database.engine.connect() as conn:
        analysed = set(conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1").scalars())
    database.dispose()
    assert "account" in analysed
    assert not {table for table in analysed if table.startswith("contact_search")}


def test_every_session_carries_its_store_clock(sqlite_url: str) -> None:
    """Services stamp times from their session (``clock_of``), so no caller passes a clock."""
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    database = Database(sqlite_url, clock=lambda: moment)
    try:
        with database.read() as reading, database.write() as writing:
            assert clock_of(reading)() == clock_of(writing)() == moment
            account = create_account(session=writing, name="Timed", actor="test")
        assert account.created_at == moment
    finally:
        database.dispose()


def test_a_sqlite_uri_store_is_opened_as_is_and_nothing_is_made_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sqlite:///file:…?mode=ro&uri=true``: SQLite reads the URI; no folder named ``file:``
    appears in the working directory and no empty store is made for it."""
    store = tmp_path / "store.db"
    Database(f"sqlite:///{store}").dispose()
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    db = Database(f"sqlite:///file:{store}?mode=ro&uri=true")
    try:
        with pytest.raises(sa.exc.OperationalError, match="readonly"), db.write() as session:
            session.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    finally:
        db.dispose()
    assert list(here.iterdir()) == []

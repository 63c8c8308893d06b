"""The engine's hot statements, compiled once per dialect and run on a DBAPI cursor.

SQLAlchemy's work around each execution (cache key, parameter and result set-up, events) costs
several times the statement itself (~100 µs against ~15 µs on SQLite), and the engine runs about
a dozen per enrollment. A :class:`Prepared` statement keeps what matters of SQLAlchemy — its SQL
for the dialect, the types' bind and result processors (booleans, aware datetimes), the column
defaults of an INSERT — and skips the rest. It runs inside a :func:`transaction` (a pooled
DBAPI connection: the store's pool and connection set-up, SQLite's ``BEGIN IMMEDIATE``, without
SQLAlchemy's ~70 µs of transaction bookkeeping), in one a :class:`~sync_engine.db.Database`
opened, or on an ORM session (the rarer outcome paths), executed there the usual way after the
session's autoflush.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session

from sync_engine.db import Database

Processor = Callable[[Any], Any] | None


class _Plan:
    """One statement compiled for one dialect: SQL, how to bind parameters, how to read rows."""

    __slots__ = (
        "defaults",
        "factories",
        "names",
        "positional",
        "processors",
        "processors_out",
        "row",
        "sql",
    )

    def __init__(self, statement: sa.ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if compiled.escaped_bind_names:
            raise ValueError("bind names needing escapes are not supported here")
        self.sql: str = compiled.string
        self.positional: bool = compiled.positional
        names = (
            list(compiled.positiontup or [])
            if compiled.positional
            else list(dict.fromkeys(compiled.bind_names.values()))
        )
        self.names: tuple[str, ...] = tuple(names)
        binds = compiled.binds
        self.defaults: dict[str, Any] = {
            name: binds[name].effective_value for name in names if not binds[name].required
        }
        # Columns whose Python-side default SQLAlchemy computes at execution (an INSERT's).
        self.factories: dict[str, Callable[[], Any]] = {}
        for column in [*compiled.insert_prefetch, *compiled.update_prefetch]:
            default = column.default if compiled.isinsert else column.onupdate
            self.factories[column.key] = _default_factory(column, default)
        processors = [compiled._bind_processors.get(name) for name in names]
        if not all(process is None or callable(process) for process in processors):
            raise ValueError("tuple-typed parameters are not supported here")
        self.processors: tuple[Processor, ...] = tuple(processors)  # type: ignore[arg-type]
        columns = compiled._result_columns or []
        self.row: type[tuple[Any, ...]] | None = None
        if columns:
            self.row = namedtuple("Row", [column.keyname for column in columns])  # type: ignore[misc]
        self.processors_out: tuple[Processor, ...] = tuple(
            column.type._cached_result_processor(dialect, None) for column in columns
        )

    def parameters(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = []
        for name, process in zip(self.names, self.processors, strict=True):
            if name in params:
                value = params[name]
            elif name in self.factories:
                value = self.factories[name]()
            elif name in self.defaults:
                value = self.defaults[name]
            else:
                raise KeyError(f"no value for the statement's parameter {name!r}")
            values.append(value if process is None else process(value))
        return values if self.positional else dict(zip(self.names, values, strict=True))

    def rows(self, fetched: Sequence[Any]) -> list[Any]:
        assert self.row is not None
        processors = self.processors_out
        make = self.row._make  # type: ignore[attr-defined]
        if not any(processors):
            return [make(raw) for raw in fetched]
        return [
            make(
                value if process is None else process(value)
                for process, value in zip(processors, raw, strict=True)
            )
            for raw in fetched
        ]


def _default_factory(column: sa.Column[Any], default: Any) -> Callable[[], Any]:
    if default is not None and default.is_scalar:
        value = default.arg
        return lambda: value
    if default is not None and default.is_callable:
        function = default.arg
        return lambda: function(None)  # SQLAlchemy's wrapper of a no-argument default
    raise ValueError(f"column {column.key!r}: only scalar or callable defaults are supported")


class Transaction:
    """A write transaction on a pooled DBAPI connection, for :class:`Prepared` statements."""

    __slots__ = ("_cursor", "connection", "dialect")

    def __init__(self, connection: PoolProxiedConnection, dialect: Dialect) -> None:
        self.connection = connection
        self.dialect = dialect
        self._cursor: Any = None

    def cursor(self) -> Any:
        """The transaction's one cursor (a cursor per statement costs more than some of them)."""
        if self._cursor is None:
            self._cursor = self.connection.cursor()
        return self._cursor

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None


@contextmanager
def transaction(db: Database, *, atomic: bool = True) -> Iterator[Transaction]:
    """A short write transaction for prepared statements: committed on success, rolled back on
    error, its connection back in the store's pool either way. On SQLite it takes the write lock
    up front, as the store's own write transactions do.

    ``atomic=False`` is for statements that each stand alone (a lease renewal, then a write
    under the lease it renewed): each commits as it runs, which spares PostgreSQL's BEGIN and
    COMMIT, a round trip each.
    """
    connection = db.engine.raw_connection()
    dialect = db.engine.dialect
    tx = Transaction(connection, dialect)
    autocommit = not atomic and not db.is_sqlite
    try:
        if db.is_sqlite and atomic:  # its connections are in autocommit mode: BEGIN is ours
            connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        if autocommit:
            connection.driver_connection.autocommit = True  # type: ignore[union-attr]
        yield tx
        tx.close()
        connection.commit()
    except BaseException as exc:
        with suppress(Exception):  # a broken connection: the first error is the one to see
            tx.close()
        with suppress(Exception):
            connection.rollback()
        if _is_disconnect(dialect, exc, connection):
            connection.invalidate(exc)  # not back to the pool: the next checkout connects anew
        raise
    finally:
        if autocommit:
            with suppress(Exception):  # the pool's other users expect transactions
                connection.driver_connection.autocommit = False  # type: ignore[union-attr]
        connection.close()


def _is_disconnect(dialect: Dialect, error: BaseException, connection: Any) -> bool:
    """Whether ``error`` says the server closed the connection (SQLAlchemy's test, which its own
    connections apply; a raw one must ask)."""
    try:
        return isinstance(error, dialect.loaded_dbapi.Error) and bool(
            dialect.is_disconnect(error, connection.dbapi_connection, None)
        )
    except Exception:
        return False


def array_rows(name: str, *columns: tuple[str, sa.types.TypeEngine[Any]]) -> Any:
    """PostgreSQL: a table ``name`` of the rows given as one array parameter per column
    (``<column>s``), so a statement over many rows is one fixed statement (prepared once)
    whatever their number. The dialect is imported here, when a PostgreSQL statement is first
    built: a SQLite process never loads it."""
    from sqlalchemy.dialects.postgresql import ARRAY

    return (
        sa.func.unnest(*(sa.bindparam(f"{c}s", type_=ARRAY(kind)) for c, kind in columns))
        .table_valued(*(sa.column(c, kind) for c, kind in columns))
        .render_derived(name=name)
    )


class Prepared:
    """A Core statement run cheaply on the current transaction's connection (see the module)."""

    __slots__ = ("_plans", "statement")

    def __init__(self, statement: sa.ClauseElement) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        key = f"{dialect.name}+{dialect.driver}"  # their SQL and paramstyle
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _Plan(self.statement, dialect)
        return plan

    def run(
        self, executor: Transaction | Session | sa.Connection, params: Mapping[str, Any]
    ) -> list[Any]:
        """Execute with ``params``; the rows it returns (named tuples), if any."""
        if isinstance(executor, Session):
            result = executor.execute(self.statement, params)  # type: ignore[arg-type]
            return list(result) if result.returns_rows else []  # type: ignore[attr-defined]
        plan = self._plan(executor.dialect)
        if isinstance(executor, Transaction):
            cursor = executor.cursor()
            cursor.execute(plan.sql, plan.parameters(params))
            return plan.rows(cursor.fetchall()) if plan.row is not None else []
        cursor = executor.connection.cursor()
        try:
            cursor.execute(plan.sql, plan.parameters(params))
            return plan.rows(cursor.fetchall()) if plan.row is not None else []
        finally:
            cursor.close()

    def run_many(
        self, executor: Transaction | sa.Connection, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Execute once per row of parameters, in one DBAPI ``executemany`` (no rows back)."""
        plan = self._plan(executor.dialect)
        if plan.row is not None:
            raise ValueError("run_many is for statements that return no rows")
        cursor = executor.connection.cursor()
        try:
            parameters: Any = [plan.parameters(row) for row in rows]  # all one shape
            cursor.executemany(plan.sql, parameters)
        finally:
            cursor.close()

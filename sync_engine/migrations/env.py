"""Alembic environment: migrates the store with batch mode on SQLite and the models' metadata."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

import sync_engine.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from sync_engine.db import Database, migration_transaction, outside_the_models

config = context.config
target_metadata = SQLModel.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=outside_the_models,
    )


def run_migrations() -> None:
    """Run on the caller's connection if one is given, else on the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = os.environ.get("CWSYNC_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set CWSYNC_DATABASE_URL or sqlalchemy.url in alembic.ini")
    database = Database(url)
    with migration_transaction(database) as conn:  # one migrating process at a time, as migrate()
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    database.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations()

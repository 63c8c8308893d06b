"""Throwaway PostgreSQL databases, made and dropped one way for the test suite and the benches.

Given an admin URL (a role that may create databases), :func:`unreachable` says why it cannot
be used (or None), :func:`create_database` makes an empty database, or a copy of a migrated
template, under a random name, and :func:`drop_database` drops it even with connections still
open. The benches import this module with the checkout on ``sys.path``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name``, password kept (it is for connecting)."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def unreachable(admin_url: str | None) -> str | None:
    """Why PostgreSQL at ``admin_url`` cannot be used (no URL, or no answer), or None if it can."""
    if not admin_url:
        return "no admin URL (give --pg or set CWSYNC_TEST_POSTGRES_URL)"
    engine = sa.create_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        return f"{make_url(admin_url).render_as_string()} unreachable: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


def database_exists(admin_url: str, name: str) -> bool:
    """Whether the server at ``admin_url`` has a database ``name``."""
    engine = sa.create_engine(admin_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
        return found is not None
    finally:
        engine.dispose()


def admin_sql(admin_url: str, statement: str) -> None:
    """One statement outside a transaction, where CREATE and DROP DATABASE must run."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        admin.dispose()


def create_database(admin_url: str, prefix: str, *, template: str | None = None) -> tuple[str, str]:
    """A new database ``{prefix}_{random}``, empty or a copy of ``template``: (name, URL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin_sql(admin_url, f'CREATE DATABASE "{name}"{copy}')
    return name, with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, closing its connections."""
    admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_database(admin_url: str, prefix: str, *, template: str | None = None) -> Iterator[str]:
    """The URL of a database made by :func:`create_database`, dropped at the end of the block."""
    name, url = create_database(admin_url, prefix, template=template)
    try:
        yield url
    finally:
        drop_database(admin_url, name)

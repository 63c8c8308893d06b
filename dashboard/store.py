"""Sessions on the store for the pages: one to read, one short transaction to write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from dashboard import process
from sync_engine.services.errors import store_errors

if TYPE_CHECKING:
    from sqlmodel import Session


@contextmanager
def reading() -> Iterator[Session]:
    """A read session on the store."""
    with process.runtime().db.read() as session:
        yield session


@contextmanager
def writing() -> Iterator[Session]:
    """A short write transaction on the store; a store that cannot take it (read-only, full,
    unreachable) is a `ServiceError` with the store's one-line reason, shown like any other."""
    db = process.runtime().db
    with store_errors(db.url), db.write() as session:
        yield session

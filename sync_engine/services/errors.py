"""Errors the service layer raises for bad input or missing things, each with a one-line message.

Each is a :class:`ServiceError`, whose class lives in :mod:`sync_engine.errors` (below the services,
so the store key's error is one too); callers catch it from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from sync_engine.errors import ServiceError


class NotFoundError(ServiceError):
    """An account, sequence, enrollment or other record does not exist."""


class InvalidInputError(ServiceError):
    """Input failed validation; the message says which value and why."""


class ConnectionRejectedError(ServiceError):
    """Clockwork rejected the credentials or could not be reached while connecting."""


def invalid_input(exc: ValidationError) -> InvalidInputError:
    """The first problem of a pydantic validation error, as one line: ``field: message``."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "value"
    message = str(error["msg"]).removeprefix("Value error, ")
    return InvalidInputError(f"{where}: {message}")


class StoreUnavailableError(ServiceError):
    """The store refused the work: read-only, full, or its server cannot be reached."""


def store_unavailable(exc: OperationalError, url: str) -> StoreUnavailableError:
    """The store's own one-line reason (its driver's first line), naming the store without its
    password: ``the store sqlite:///… cannot be used: attempt to write a readonly database``."""
    reason = str(exc.orig if exc.orig is not None else exc).strip().splitlines() or ["unknown"]
    where = make_url(url).render_as_string(hide_password=True)
    return StoreUnavailableError(f"the store {where} cannot be used: {reason[0]}")


@contextmanager
def store_errors(url: str) -> Iterator[None]:
    """Within this block, a store that cannot take the work (read-only, full, unreachable) is a
    :class:`StoreUnavailableError` with its one-line reason (:func:`store_unavailable`)."""
    try:
        yield
    except OperationalError as exc:
        raise store_unavailable(exc, url) from None

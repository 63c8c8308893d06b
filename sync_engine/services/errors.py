"""Errors the service layer raises for bad input or missing things, each with a one-line message."""

from __future__ import annotations

from pydantic import ValidationError


class ServiceError(Exception):
    """Base: the message is safe to show to the user as is (never holds a secret)."""


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

"""The vocabulary every layer shares (STYLE point 14): statuses, reasons and the other string
enums the store keeps, the clock type, Clockwork's API address, the review choice that creates a
person, and what a contact's email must be.

Pure (it imports only :mod:`sync_engine.matching`), so the engine, the services, the CLI and the dashboard can
all import it without depending on one another.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from sync_engine.matching import normalize_email

Clock = Callable[[], datetime]
"""Now, as an aware UTC datetime; passed in so tests move time by hand."""


def utcnow() -> datetime:
    """Now, in UTC (the default clock; services take a clock argument instead)."""
    return datetime.now(UTC)


CLOCKWORK_API_URL: Final = "https://api.clockworkrecruiting.com"
"""Clockwork's API: a connection's base URL unless another is given (the client's and the connect
form's default)."""


CREATE_NEW_PERSON: Final = "new"
"""The review choice (instead of a Clockwork person id) that has the engine create a person."""


def check_email(raw: str) -> str:
    """The normalised email (:func:`~sync_engine.matching.normalize_email`) if it is an address;
    :class:`ValueError` saying why not."""
    # Imported on first use: email_validator compiles its grammar on import (tens of ms), which
    # every process importing the models paid at start-up; only a new contact's email is checked.
    from email_validator import EmailNotValidError, validate_email

    email = normalize_email(raw)
    if not email:
        raise ValueError("email is empty")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email {email[:80]!r}: {exc}") from None
    return email


class SyncMode(StrEnum):
    """When contacts of an account sync (the seed's three options)."""

    OFF = "off"
    ON_ADD = "on_add"
    ON_REPLY = "on_reply"


class ConnectionState(StrEnum):
    """Health of an account's Clockwork connection."""

    CONNECTED = "connected"
    NEEDS_ATTENTION = "needs_attention"
    DISCONNECTED = "disconnected"


class EnrollmentStatus(StrEnum):
    """Statuses shown per enrollment (SPEC §4)."""

    AWAITING_REPLY = "awaiting_reply"
    QUEUED = "queued"
    SYNCING = "syncing"
    SYNCED = "synced"
    RETRYING = "retrying"
    FAILED = "failed"
    SKIPPED = "skipped"
    NEEDS_REVIEW = "needs_review"  # B2: several people share the LinkedIn URL; staff choose


# Enrollments the engine still has to sync: the queue.
SYNC_PENDING = (EnrollmentStatus.QUEUED, EnrollmentStatus.RETRYING, EnrollmentStatus.SYNCING)


class Reason(StrEnum):
    """Stable machine-readable reasons for skipped, failed, retrying and paused enrollments."""

    SYNC_OFF = "sync_off"
    SEQUENCE_SYNC_DISABLED = "sequence_sync_disabled"
    NOT_CONNECTED = "not_connected"
    DISMISSED = "dismissed"
    INVALID_EMAIL = "invalid_email"
    AUTH_FAILED = "auth_failed"
    RATE_LIMITED = "rate_limited"
    CLOCKWORK_UNAVAILABLE = "clockwork_unavailable"
    NETWORK_ERROR = "network_error"
    VALIDATION_ERROR = "validation_error"
    NOT_FOUND = "not_found"
    ACCOUNT_PAUSED = "account_paused"
    AMBIGUOUS_LINKEDIN_MATCH = "ambiguous_linkedin_match"
    TRACKING_OFF = "tracking_off"
    BEFORE_CONNECTION = "before_connection"
    UNEXPECTED_ERROR = "unexpected_error"
    UNEXPECTED_ANSWER = "unexpected_answer"


class MatchRule(StrEnum):
    """Why an enrollment's person is the one it is (B2 adds LinkedIn and staff review)."""

    EMAIL = "email"
    LINKEDIN = "linkedin"
    REVIEW = "review"


class LinkKind(StrEnum):
    """How an enrollment's person came to be: created by us, or an existing person linked."""

    CREATED = "created"
    LINKED = "linked"


class ActivityKind(StrEnum):
    """Email events of an enrollment."""

    SENT = "sent"
    OPENED = "opened"
    CLICKED = "clicked"
    REPLIED = "replied"
    BOUNCED = "bounced"


class ActivityState(StrEnum):
    """Delivery state of one activity as a Clockwork note."""

    PENDING = "pending"
    SYNCED = "synced"
    SKIPPED = "skipped"
    FAILED = "failed"


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")  # C0, DEL and C1


def printable(text: str) -> str:
    """Words from outside (Clockwork's answers, an alert destination's) with each run of control
    characters made one space: a hostile answer's terminal escapes or line breaks cannot rewrite
    a log line, a stored error or the terminal that shows it."""
    return _CONTROL_CHARACTERS.sub(" ", text).strip()

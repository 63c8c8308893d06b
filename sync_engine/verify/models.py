"""Verification runs and the findings stored with each contact.

A :class:`VerifyRun` is one verification of an account (or one sequence of it), with its progress
and the reads it spent. A :class:`ContactCheck` is the newest finding for one contact: ``ok`` or
``drifted`` with a plain-language reason and the details a repair needs (which person, which
candidacy, which notes).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from sync_engine.models import UTCDateTime, utcnow


class VerifyState(StrEnum):
    """Where a verification run is."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class CheckStatus(StrEnum):
    """A contact's standing after its newest verification."""

    OK = "ok"
    DRIFTED = "drifted"
    REPAIRED = "repaired"


class Drift(StrEnum):
    """What a verification found missing in Clockwork."""

    PERSON_MISSING = "person_missing"
    PERSON_MERGED = "person_merged"
    EMAIL_MISSING = "email_missing"
    CANDIDACY_MISSING = "candidacy_missing"
    NOTES_MISSING = "notes_missing"


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def _str(length: int, **kwargs: Any) -> Any:
    return Field(sa_type=sa.String(length), **kwargs)


class VerifyRun(SQLModel, table=True):
    """One verification of an account's synced contacts, or of one of its sequences."""

    __tablename__ = "verify_run"
    __table_args__ = (sa.Index("ix_verify_run_account", "account_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    sequence_id: int | None = Field(default=None, foreign_key="sequence.id")
    sample: int | None = None
    state: str = _str(16, default=VerifyState.QUEUED)
    requested_by: str = _str(200, default="")
    requested_at: datetime = _ts(default_factory=utcnow)
    started_at: datetime | None = _ts(default=None)
    finished_at: datetime | None = _ts(default=None)
    total: int = 0
    checked: int = 0
    drifted: int = 0
    reads: int = 0
    cursor: int = Field(default=0, description="The last contact id checked (runs resume)")
    error: str | None = _str(500, default=None)


class ContactCheck(SQLModel, table=True):
    """The newest verification finding of one contact."""

    __tablename__ = "contact_check"
    __table_args__ = (sa.Index("ix_contact_check_account_status", "account_id", "status"),)

    contact_id: int = Field(foreign_key="contact.id", primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    run_id: int | None = Field(default=None, foreign_key="verify_run.id")
    status: str = _str(16)
    reason: str | None = _str(500, default=None)
    findings: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    checked_at: datetime = _ts(default_factory=utcnow)
    repaired_at: datetime | None = _ts(default=None)

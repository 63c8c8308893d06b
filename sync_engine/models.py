"""The store's tables (SQLModel); the vocabulary they store (SPEC §2 and §4) is in
:mod:`sync_engine.domain` and is importable from here too.

Every timestamp is UTC-aware (:class:`UTCDateTime`). Enumerations are stored as short strings,
not native database enums, so adding a status is a code change and not a type migration.
Indexes follow the dashboard's filters: status, reason, sequence, the Exists-in-Clockwork flag and
email.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from sync_engine.domain import SYNC_PENDING as SYNC_PENDING
from sync_engine.domain import ActivityKind as ActivityKind
from sync_engine.domain import ActivityState as ActivityState
from sync_engine.domain import ConnectionState as ConnectionState
from sync_engine.domain import EnrollmentStatus as EnrollmentStatus
from sync_engine.domain import LinkKind as LinkKind
from sync_engine.domain import MatchRule as MatchRule
from sync_engine.domain import Reason as Reason
from sync_engine.domain import SyncMode as SyncMode
from sync_engine.domain import utcnow as utcnow

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def _str(length: int, **kwargs: Any) -> Any:
    return Field(sa_type=sa.String(length), **kwargs)


class Account(SQLModel, table=True):
    """One customer team of the outreach product."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = _str(200, unique=True)
    created_at: datetime = _ts(default_factory=utcnow)
    sync_paused: bool = Field(default=False, description="Paused by staff (B8): no work claimed")


class AccountSettings(SQLModel, table=True):
    """An account's sync settings (SPEC §3); one row per account."""

    __tablename__ = "account_settings"

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    sync_mode: str = _str(16, default=SyncMode.ON_ADD)
    deduplication: bool = True
    default_project_id: str | None = _str(64, default=None)
    activity_tracking: bool = True
    link_by_linkedin: bool = Field(default=False, description="B2: match on LinkedIn URL too")
    max_rps: float | None = Field(default=None, description="Requests/s budget; None = default")
    updated_at: datetime = _ts(default_factory=utcnow)


class ClockworkConnection(SQLModel, table=True):
    """An account's Clockwork firm and credentials; secrets are Fernet tokens, never clear text."""

    __tablename__ = "clockwork_connection"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", unique=True)
    firm: str = _str(100)
    base_url: str = _str(300)
    api_key_token: str = _str(500)
    api_secret_token: str = _str(500)
    firm_service_key_token: str = _str(500)
    api_key_hint: str = _str(16, description="Masked form shown to people")
    state: str = _str(20, default=ConnectionState.CONNECTED, index=True)
    connected_at: datetime | None = _ts(default=None)
    disconnected_at: datetime | None = _ts(default=None)
    last_success_at: datetime | None = _ts(default=None)
    last_error: str | None = _str(500, default=None)


class Sequence(SQLModel, table=True):
    """An email sequence with its Syncing tab (Disable Sync, project override)."""

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = _str(200)
    disable_sync: bool = False
    project_id: str | None = _str(64, default=None)
    created_at: datetime = _ts(default_factory=utcnow)


class Contact(SQLModel, table=True):
    """A person of the outreach product, unique per account by normalised email.

    The Clockwork person and the progress of creating it live here, because every enrollment of
    the contact shares one person; each creation step is recorded before the next (SPEC R8).
    """

    __table_args__ = (sa.UniqueConstraint("account_id", "email", name="uq_contact_account_email"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    email: str = _str(320, index=True)
    first_name: str = _str(200, default="")
    last_name: str = _str(200, default="")
    title: str = _str(300, default="")
    company: str = _str(300, default="")
    linkedin_url: str = _str(500, default="")
    created_at: datetime = _ts(default_factory=utcnow)
    clockwork_person_id: str | None = _str(64, default=None, index=True)
    person_created_by_us: bool = False
    person_created_by_enrollment_id: int | None = Field(default=None)
    person_creation_started_at: datetime | None = _ts(default=None)
    email_attached: bool = False
    position_attached: bool = False
    linkedin_attached: bool = False


class Enrollment(SQLModel, table=True):
    """A contact added to a sequence: the unit the dashboard audits and the engine's work item.

    The ``*_at_add`` columns and ``project_id`` are the trigger-time snapshot of SPEC R1/R2; later
    setting changes never rewrite them. ``next_attempt_at`` is set exactly when the engine has work
    for the enrollment (a sync, or activity notes to deliver); ``lease_*`` mark it claimed.
    """

    __table_args__ = (
        sa.Index("ix_enrollment_account_id", "account_id", "id"),
        sa.Index("ix_enrollment_account_status", "account_id", "status", "reason"),
        sa.Index("ix_enrollment_account_reason", "account_id", "reason"),
        sa.Index("ix_enrollment_account_flag", "account_id", "exists_in_clockwork"),
        sa.Index("ix_enrollment_due", "next_attempt_at"),
        sa.Index("ix_enrollment_account_synced", "account_id", "synced_at"),
        sa.Index("ix_enrollment_sequence_status", "sequence_id", "status"),
        sa.Index("ix_enrollment_contact_lease", "contact_id", "lease_expires_at"),
        # The Overview's queue and due counts from the index alone (migration 0006).
        sa.Index("ix_enrollment_account_due", "account_id", "status", "next_attempt_at"),
        # A contact search's enrollments in the account, from the index alone (migration 0006).
        sa.Index("ix_enrollment_contact_account", "contact_id", "account_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    sequence_id: int = Field(foreign_key="sequence.id", index=True)
    contact_id: int = Field(foreign_key="contact.id")
    added_at: datetime = _ts(default_factory=utcnow)
    # Trigger-time snapshot (R1, R2).
    sync_mode_at_add: str = _str(16)
    disable_sync_at_add: bool
    connected_at_add: bool
    dedup_at_add: bool
    # R1's decision at add, as made: the action, and why when skipped (None: not recorded).
    action_at_add: str | None = _str(16, default=None)
    reason_at_add: str | None = _str(40, default=None)
    project_id: str | None = _str(64, default=None)
    decided_at: datetime | None = _ts(default=None)
    replied_at: datetime | None = _ts(default=None)
    # Outcome.
    status: str = _str(20)
    reason: str | None = _str(40, default=None)
    last_error: str | None = _str(500, default=None)
    link: str | None = _str(10, default=None)
    match_rule: str | None = _str(10, default=None)
    review_candidates: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON)
    review_choice: str | None = _str(64, default=None, description="Person id, or 'new'")
    exists_in_clockwork: bool = False
    clockwork_person_id: str | None = _str(64, default=None)
    candidacy_done: bool = False
    synced_at: datetime | None = _ts(default=None)
    # Queue state.
    attempts: int = 0
    next_attempt_at: datetime | None = _ts(default=None)
    last_attempt_at: datetime | None = _ts(default=None)
    lease_owner: str | None = _str(64, default=None)
    lease_expires_at: datetime | None = _ts(default=None)


class Activity(SQLModel, table=True):
    """An email event of an enrollment, delivered as a Clockwork note (SPEC R5).

    ``tracked`` records whether, when it happened, the account was connected with activity
    tracking on; ``activity_key`` is written into the note so a retry never writes it twice.
    """

    __table_args__ = (
        sa.Index("ix_activity_enrollment_state", "enrollment_id", "state"),
        sa.Index("ix_activity_account_occurred", "account_id", "occurred_at"),
        sa.Index("ix_activity_account_state", "account_id", "state", "id"),
        sa.Index("ix_activity_account_id", "account_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="enrollment.id")
    account_id: int = Field(foreign_key="account.id")
    kind: str = _str(16)
    occurred_at: datetime = _ts()
    subject: str = _str(500, default="")
    tracked: bool
    activity_key: str = _str(64, unique=True)
    state: str = _str(16, default=ActivityState.PENDING)
    reason: str | None = _str(40, default=None)
    note_id: str | None = _str(64, default=None)
    attempts: int = 0
    last_error: str | None = _str(500, default=None)
    synced_at: datetime | None = _ts(default=None)


class SyncAttempt(SQLModel, table=True):
    """One engine attempt at an enrollment, for its timeline in the detail view."""

    __tablename__ = "sync_attempt"
    __table_args__ = (
        # The overview chart counts an account's failed attempts per time bucket.
        sa.Index("ix_sync_attempt_account_outcome", "account_id", "outcome", "finished_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    enrollment_id: int = Field(foreign_key="enrollment.id", index=True)
    account_id: int = Field(foreign_key="account.id")
    started_at: datetime = _ts()
    finished_at: datetime | None = _ts(default=None)
    outcome: str = _str(20)
    reason: str | None = _str(40, default=None)
    error: str | None = _str(500, default=None)
    calls: int = 0


class EngineRun(SQLModel, table=True):
    """One engine pass or scheduler event (SPEC B7): trigger, duration, counts by outcome."""

    __tablename__ = "engine_run"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _ts(index=True)
    finished_at: datetime | None = _ts(default=None)
    trigger: str = _str(40)
    worker: str = _str(64)
    counts: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)
    error: str | None = _str(1000, default=None)


class EngineMember(SQLModel, table=True):
    """An engine alive on this store, by its heartbeat: engines sharing a store split the
    accounts (firms) among the members alive, so one firm is paced by one engine."""

    __tablename__ = "engine_member"

    member: str = Field(sa_type=sa.String(64), primary_key=True)
    beat_at: datetime = _ts()


class FirmPace(SQLModel, table=True):
    """The pace an engine learned for an account's Clockwork firm from its 429s (its limit is
    not told): the engine that takes the firm over starts there instead of learning it again."""

    __tablename__ = "firm_pace"

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    rate: float = Field(description="Requests/s the engine was sending at")
    ceiling: float = Field(description="The pace that last drew 429s, where probing starts")
    updated_at: datetime = _ts()


class ApiCall(SQLModel, table=True):
    """One Clockwork request (SPEC B7), secrets never recorded; retention is bounded."""

    __tablename__ = "api_call"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    at: datetime = _ts(index=True)
    method: str = _str(8)
    path: str = _str(200)
    status: int | None = None
    latency_ms: float
    error: str | None = _str(500, default=None)


class AuditEntry(SQLModel, table=True):
    """A settings or credential change (SPEC B11): who, when, old → new, secrets masked."""

    __tablename__ = "audit_entry"
    # A field's history in one account (what recording an event reads three times, to judge it
    # by the connection state and tracking setting of its own moment): one index range.
    __table_args__ = (sa.Index("ix_audit_entry_history", "account_id", "entity", "field", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor: str = _str(200)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    entity: str = _str(40)
    entity_id: str | None = _str(64, default=None)
    field: str = _str(60)
    old_value: str | None = _str(500, default=None)
    new_value: str | None = _str(500, default=None)


def table_of(model: type[SQLModel]) -> sa.Table:
    """A model's table, for Core statements on the engine's hot path (no ORM bookkeeping)."""
    mapper = sa.inspect(model)
    assert mapper is not None
    return cast(sa.Table, mapper.local_table)


# --- the store's own facts, and the login lockout -------------------------------------------


class StoreMeta(SQLModel, table=True):
    """Facts about the store itself, one row per key: ``kind`` (``demo`` when demo mode created
    it; absent otherwise) and ``key_fingerprint`` (which encryption key its credentials need)."""

    __tablename__ = "store_meta"

    key: str = Field(sa_type=sa.String(40), primary_key=True)
    value: str = _str(200)
    updated_at: datetime = _ts(default_factory=utcnow)


class LoginFailure(SQLModel, table=True):
    """Wrong-password attempts against one username (``user:NAME``) or from one client
    (``client:ADDRESS``): counted before the password is checked, locked at the limit."""

    __tablename__ = "login_failure"

    subject: str = Field(sa_type=sa.String(200), primary_key=True)
    failures: int = 0
    last_failure_at: datetime | None = _ts(default=None)
    locked_until: datetime | None = _ts(default=None)


# --- tables of feature packages: imported here so the metadata (Alembic, sessions) has them ---

from sync_engine.alerts import models as _alerts_models  # noqa: E402, F401
from sync_engine.ingest import models as _ingest_models  # noqa: E402, F401
from sync_engine.verify import models as _verify_models  # noqa: E402, F401

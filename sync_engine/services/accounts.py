"""Accounts, their sync settings, sequences and Clockwork connections.

Every change is validated here (one clear message per bad value) and lands in the audit log with
secrets masked. Credentials are encrypted before they reach the store and only
:mod:`sync_engine.connections` ever returns them in clear, for the HTTP client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from sync_engine.audit import record_change
from sync_engine.clockwork.client import Credentials
from sync_engine.clockwork.errors import (
    ClockworkAuthError,
    ClockworkError,
    ClockworkNotFound,
    ClockworkTransientError,
)
from sync_engine.connections import connection_credentials, credentials_change, get_connection
from sync_engine.crypto import mask
from sync_engine.db import clock_of
from sync_engine.domain import CLOCKWORK_API_URL
from sync_engine.models import (
    Account,
    AccountSettings,
    ClockworkConnection,
    ConnectionState,
    Sequence,
    SyncMode,
)
from sync_engine.rules import AccountSnapshot, SequenceSnapshot
from sync_engine.services.errors import (
    ConnectionRejectedError,
    InvalidInputError,
    NotFoundError,
    invalid_input,
)

if TYPE_CHECKING:
    from sync_engine.runtime import Runtime

_PROJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_FIRM = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _validate_project_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if not _PROJECT_ID.match(value):
        raise ValueError("a Clockwork project id is letters, digits and dashes (at most 64)")
    return value


# --- accounts -------------------------------------------------------------------------------


def create_account(*, session: Session, name: str, actor: str) -> Account:
    """Create an account with the seed's default settings (sync on add, dedup on, tracking on)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInputError("account name must be 1 to 200 characters")
    if session.exec(select(Account).where(Account.name == name)).first() is not None:
        raise InvalidInputError(f"an account named {name!r} already exists")
    now = clock_of(session)()
    account = Account(name=name, created_at=now)
    session.add(account)
    session.flush()
    assert account.id is not None
    session.add(AccountSettings(account_id=account.id, updated_at=now))
    record_change(
        session=session, at=now, actor=actor, account_id=account.id, entity="account",
        entity_id=account.id, field="name", old=None, new=name,
    )  # fmt: skip
    return account


MAX_RECORD_ID = 2**63 - 1  # the largest id either store can hold (SQLite INTEGER, bigint)


def record_id(text: str) -> int | None:
    """The record id ``text`` spells (ASCII digits, 1 to :data:`MAX_RECORD_ID`), else None."""
    text = text.strip()
    if not (text.isascii() and text.isdecimal()) or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_RECORD_ID else None


def get_account(*, session: Session, ref: str | int) -> Account:
    """An account by id or by its unique name."""
    account: Account | None = None
    account_id = ref if isinstance(ref, int) else record_id(ref)
    if account_id is not None and 1 <= account_id <= MAX_RECORD_ID:
        account = session.get(Account, account_id)
    if account is None:
        account = session.exec(select(Account).where(Account.name == str(ref).strip())).first()
    if account is None:
        raise NotFoundError(f"no account {ref!r} (give its id or exact name)")
    return account


def list_accounts(*, session: Session) -> list[Account]:
    """All accounts, by name."""
    return list(session.exec(select(Account).order_by(col(Account.name))).all())


def set_sync_paused(*, session: Session, account_id: int, paused: bool, actor: str) -> Account:
    """Pause or resume syncing for an account (SPEC B8); queued work stays queued."""
    account = get_account(session=session, ref=account_id)
    record_change(
        session=session, at=clock_of(session)(), actor=actor, account_id=account_id, entity="account",
        entity_id=account_id, field="sync_paused", old=account.sync_paused, new=paused,
    )  # fmt: skip
    account.sync_paused = paused
    session.add(account)
    return account


# --- settings -------------------------------------------------------------------------------


class SettingsUpdate(BaseModel):
    """A change to an account's sync settings; only the fields given are changed."""

    model_config = ConfigDict(extra="forbid")

    sync_mode: SyncMode | None = None
    deduplication: bool | None = None
    default_project_id: str | None = None
    activity_tracking: bool | None = None
    link_by_linkedin: bool | None = None
    max_rps: float | None = Field(default=None, ge=0.1, le=1000)

    _project = field_validator("default_project_id")(_validate_project_id)


def get_settings(*, session: Session, account_id: int) -> AccountSettings:
    """An account's sync settings."""
    settings = session.get(AccountSettings, account_id)
    if settings is None:
        raise NotFoundError(f"no settings for account {account_id}")
    return settings


def update_settings(
    *, session: Session, account_id: int, changes: dict[str, Any], actor: str
) -> AccountSettings:
    """Apply ``changes`` (field → new value; None clears the project or max rps), audited.

    Settings changes never touch enrollments already decided (SPEC R1/R2).
    """
    try:
        update = SettingsUpdate(**changes)
    except ValidationError as exc:
        raise invalid_input(exc) from None
    settings = get_settings(session=session, account_id=account_id)
    now = clock_of(session)()
    for name in update.model_fields_set:
        new = getattr(update, name)
        if new is None and name in {
            "sync_mode",
            "deduplication",
            "activity_tracking",
            "link_by_linkedin",
        }:
            continue
        record_change(
            session=session, at=now, actor=actor, account_id=account_id, entity="settings",
            entity_id=account_id, field=name, old=getattr(settings, name), new=new,
        )  # fmt: skip
        setattr(settings, name, new)
    settings.updated_at = now
    session.add(settings)
    return settings


def account_snapshot(*, session: Session, account_id: int) -> AccountSnapshot:
    """The account's settings and connection state now, as the rules see them."""
    settings = get_settings(session=session, account_id=account_id)
    connection = get_connection(session=session, account_id=account_id)
    return AccountSnapshot(
        sync_mode=SyncMode(settings.sync_mode),
        connected=connection is not None and connection.state != ConnectionState.DISCONNECTED,
        deduplication=settings.deduplication,
        default_project_id=settings.default_project_id,
        activity_tracking=settings.activity_tracking,
    )


# --- sequences ------------------------------------------------------------------------------


class SequenceUpdate(BaseModel):
    """A change to a sequence's Syncing tab; only the fields given are changed."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    disable_sync: bool | None = None
    project_id: str | None = None

    _project = field_validator("project_id")(_validate_project_id)


def add_sequence(
    *,
    session: Session,
    account_id: int,
    name: str,
    disable_sync: bool = False,
    project_id: str | None = None,
    actor: str,
) -> Sequence:
    """Create a sequence of an account with its Syncing tab settings."""
    try:
        update = SequenceUpdate(name=name.strip(), disable_sync=disable_sync, project_id=project_id)
    except ValidationError as exc:
        raise invalid_input(exc) from None
    get_account(session=session, ref=account_id)
    now = clock_of(session)()
    sequence = Sequence(
        account_id=account_id,
        name=update.name or name,
        disable_sync=disable_sync,
        project_id=update.project_id,
        created_at=now,
    )
    session.add(sequence)
    session.flush()
    record_change(
        session=session, at=now, actor=actor, account_id=account_id, entity="sequence",
        entity_id=sequence.id, field="created", old=None, new=sequence.name,
    )  # fmt: skip
    return sequence


def get_sequence(*, session: Session, sequence_id: int) -> Sequence:
    """A sequence by id."""
    sequence = session.get(Sequence, sequence_id)
    if sequence is None:
        raise NotFoundError(f"no sequence {sequence_id}")
    return sequence


def list_sequences(*, session: Session, account_id: int) -> list[Sequence]:
    """An account's sequences, by name."""
    query = select(Sequence).where(Sequence.account_id == account_id)
    return list(session.exec(query.order_by(col(Sequence.name))).all())


def update_sequence(
    *, session: Session, sequence_id: int, changes: dict[str, Any], actor: str
) -> Sequence:
    """Change a sequence's name, Disable Sync or project override, audited.

    Enrollments already added keep their decision (SPEC R1/R2).
    """
    try:
        update = SequenceUpdate(**changes)
    except ValidationError as exc:
        raise invalid_input(exc) from None
    sequence = get_sequence(session=session, sequence_id=sequence_id)
    now = clock_of(session)()
    for name in update.model_fields_set:
        new = getattr(update, name)
        if new is None and name in {"name", "disable_sync"}:
            continue
        record_change(
            session=session, at=now, actor=actor, account_id=sequence.account_id,
            entity="sequence", entity_id=sequence_id, field=name,
            old=getattr(sequence, name), new=new,
        )  # fmt: skip
        setattr(sequence, name, new)
    session.add(sequence)
    return sequence


def sequence_snapshot(sequence: Sequence) -> SequenceSnapshot:
    """A sequence's Syncing tab as the rules see it."""
    return SequenceSnapshot(disable_sync=sequence.disable_sync, project_id=sequence.project_id)


# --- connections ----------------------------------------------------------------------------


class ConnectionInput(BaseModel):
    """What staff type to connect a Clockwork firm, validated."""

    model_config = ConfigDict(str_strip_whitespace=True)

    firm: str = Field(min_length=1, max_length=63)
    api_key: str = Field(min_length=1, max_length=300)
    api_secret: str = Field(min_length=1, max_length=300)
    firm_service_key: str = Field(min_length=1, max_length=300)
    base_url: str = Field(default=CLOCKWORK_API_URL, max_length=300)

    @field_validator("firm")
    @classmethod
    def _firm(cls, value: str) -> str:
        value = value.lower().removesuffix(".clockworkrecruiting.com")
        if not _FIRM.match(value):
            raise ValueError(
                "the firm name is the login subdomain, e.g. 'acme' for acme.clockwork…"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.rstrip("/") or CLOCKWORK_API_URL
        if not value.startswith(("https://", "http://")):
            raise ValueError("the base URL must start with https:// (or http:// for a simulator)")
        return value

    def credentials(self) -> Credentials:
        """The credentials the HTTP client needs."""
        return Credentials(
            firm=self.firm,
            api_key=self.api_key,
            api_secret=self.api_secret,
            firm_service_key=self.firm_service_key,
            base_url=self.base_url,
        )


@dataclass(frozen=True)
class ConnectionSummary:
    """A connection as people may see it: no secret, only a masked hint."""

    account_id: int
    firm: str
    base_url: str
    api_key_hint: str
    state: ConnectionState
    connected_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None


def connection_summary(*, session: Session, account_id: int) -> ConnectionSummary | None:
    """The account's connection, masked, or None if it never connected."""
    row = get_connection(session=session, account_id=account_id)
    if row is None:
        return None
    return ConnectionSummary(
        account_id=account_id,
        firm=row.firm,
        base_url=row.base_url,
        api_key_hint=row.api_key_hint,
        state=ConnectionState(row.state),
        connected_at=row.connected_at,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
    )


def verify_credentials(runtime: Runtime, credentials: Credentials) -> None:
    """Check credentials against Clockwork (``GET /people?limit=1``); raise a clear reason if not."""
    try:
        with runtime.client(credentials) as client:
            client.check_credentials()
    except ClockworkAuthError:
        raise ConnectionRejectedError(
            "Clockwork rejected the credentials (check the API key, secret and firm service key)"
        ) from None
    except ClockworkNotFound:
        raise ConnectionRejectedError(
            f"Clockwork has no firm {credentials.firm!r} at {credentials.base_url}"
        ) from None
    except ClockworkTransientError as exc:
        raise ConnectionRejectedError(f"Clockwork could not be reached: {exc}") from None
    except ClockworkError as exc:
        raise ConnectionRejectedError(f"Clockwork refused the check: {exc}") from None


def check_connection(runtime: Runtime, *, account_id: int) -> None:
    """Test the account's stored credentials against Clockwork now; raise a clear reason if not.

    The credentials are decrypted for the HTTP client only; nothing is stored or returned.
    """
    with runtime.db.read() as session:
        credentials = connection_credentials(
            session=session, box=runtime.box, account_id=account_id
        )
    if credentials is None:
        raise ConnectionRejectedError("the account is not connected to Clockwork")
    verify_credentials(runtime, credentials)


def connect(
    runtime: Runtime, *, account_id: int, fields: dict[str, str], actor: str
) -> ConnectionSummary:
    """Verify the credentials, then store them encrypted and mark the connection connected.

    The check runs before any transaction opens. A reconnect after *needs attention* resumes the
    account's queued work (SPEC R6).
    """
    try:
        given = ConnectionInput(**fields)
        credentials = given.credentials()
    except ValidationError as exc:
        raise invalid_input(exc) from None
    except ValueError as exc:  # what the HTTP client refuses: a space in a key, a query in a URL
        raise InvalidInputError(str(exc)) from None
    if not (credentials.encrypted_in_transit or runtime.settings.allow_insecure_http):
        raise InvalidInputError(
            f"the base URL {given.base_url} is plain http:// on another machine: the keys would "
            "cross the network unencrypted. Use https:// (http:// is accepted for a simulator "
            "on this machine, or with CWSYNC_ALLOW_INSECURE_HTTP=true)"
        )
    with runtime.db.read() as session:
        get_account(session=session, ref=account_id)
    verify_credentials(runtime, credentials)
    box = runtime.box
    now = runtime.clock()
    with runtime.db.write() as session:
        row = get_connection(session=session, account_id=account_id)
        old_state = row.state if row else None
        old_hint = row.api_key_hint if row else None
        old_firm = row.firm if row else None
        keys = credentials_change(box=box, row=row, given=credentials)
        if row is None:
            row = ClockworkConnection(
                account_id=account_id, firm=given.firm, base_url=given.base_url,
                api_key_token="", api_secret_token="", firm_service_key_token="", api_key_hint="",
            )  # fmt: skip
        row.firm = given.firm
        row.base_url = given.base_url
        row.api_key_token = box.encrypt(given.api_key)
        row.api_secret_token = box.encrypt(given.api_secret)
        row.firm_service_key_token = box.encrypt(given.firm_service_key)
        row.api_key_hint = mask(given.api_key)
        if old_state in (None, ConnectionState.DISCONNECTED):
            row.connected_at = now
        row.state = ConnectionState.CONNECTED
        row.last_success_at = now
        row.last_error = None
        session.add(row)
        for field, old, new in (
            ("state", old_state, ConnectionState.CONNECTED.value),
            ("firm", old_firm, given.firm),
            ("api_key", old_hint, row.api_key_hint),
            ("credentials", None, keys),
        ):
            record_change(
                session=session, at=now, actor=actor, account_id=account_id,
                entity="connection", entity_id=account_id, field=field, old=old, new=new,
            )  # fmt: skip
        session.flush()
        summary = connection_summary(session=session, account_id=account_id)
    assert summary is not None
    return summary


def reverify(
    runtime: Runtime, *, account_id: int, actor: str, base_url: str | None = None
) -> ConnectionSummary:
    """Check the stored credentials against Clockwork again and, when they work, mark the
    connection connected (after *needs attention* the account's work resumes, SPEC R6); with
    ``base_url`` the connection moves there. Verified and audited like :func:`connect`; the
    secrets are decrypted here for the check and never returned."""
    with runtime.db.read() as session:
        stored = connection_credentials(session=session, box=runtime.box, account_id=account_id)
    if stored is None:
        raise InvalidInputError("the account holds no credentials to check again: connect it")
    fields = {
        "firm": stored.firm,
        "api_key": stored.api_key,
        "api_secret": stored.api_secret,
        "firm_service_key": stored.firm_service_key,
        "base_url": base_url or stored.base_url,
    }
    return connect(runtime, account_id=account_id, fields=fields, actor=actor)


def disconnect(*, session: Session, account_id: int, actor: str) -> None:
    """Forget the credentials and stop syncing; history and queued work are kept (SPEC R6)."""
    row = get_connection(session=session, account_id=account_id)
    if row is None or row.state == ConnectionState.DISCONNECTED:
        raise InvalidInputError("the account is not connected")
    now = clock_of(session)()
    record_change(
        session=session, at=now, actor=actor, account_id=account_id, entity="connection",
        entity_id=account_id, field="state", old=row.state, new=ConnectionState.DISCONNECTED.value,
    )  # fmt: skip
    row.state = ConnectionState.DISCONNECTED
    row.disconnected_at = now
    row.api_key_token = row.api_secret_token = row.firm_service_key_token = ""
    session.add(row)

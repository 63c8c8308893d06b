"""A firm's Clockwork connection row, as the engine and the services both need it.

Below the services so the engine can read the credentials for its HTTP client and flag a
connection Clockwork rejected without importing the app-facing services. Credentials are
decrypted here and only here, for the HTTP client; nothing returns them anywhere else.
"""

from __future__ import annotations

from sqlmodel import Session, select

from sync_engine.audit import record_change
from sync_engine.clockwork.client import Credentials
from sync_engine.crypto import SecretBox, SecretKeyError
from sync_engine.db import clock_of
from sync_engine.models import ClockworkConnection, ConnectionState


def get_connection(*, session: Session, account_id: int) -> ClockworkConnection | None:
    """The account's connection row, if it ever connected."""
    query = select(ClockworkConnection).where(ClockworkConnection.account_id == account_id)
    return session.exec(query).first()


def connection_credentials(
    *, session: Session, box: SecretBox, account_id: int
) -> Credentials | None:
    """The decrypted credentials of a live connection, for the HTTP client only."""
    return credentials_of(get_connection(session=session, account_id=account_id), box)


def credentials_of(row: ClockworkConnection | None, box: SecretBox) -> Credentials | None:
    """A connection row's decrypted credentials, None when it is not live (never connected or
    disconnected); raises :class:`SecretKeyError` when they cannot be read with ``box``."""
    if row is None or row.state == ConnectionState.DISCONNECTED:
        return None
    return Credentials(
        firm=row.firm,
        api_key=box.decrypt(row.api_key_token),
        api_secret=box.decrypt(row.api_secret_token),
        firm_service_key=box.decrypt(row.firm_service_key_token),
        base_url=row.base_url,
    )


def credentials_change(
    *, box: SecretBox, row: ClockworkConnection | None, given: Credentials
) -> str | None:
    """What connecting with ``given`` does to the stored keys, for the audit log: "set" when none
    are stored, "updated" when they differ (or cannot be read), None when they are the same."""
    if row is None or not row.api_key_token:
        return "set"
    try:
        tokens = (row.api_key_token, row.api_secret_token, row.firm_service_key_token)
        stored = tuple(box.decrypt(token) for token in tokens)
    except SecretKeyError:
        return "updated"
    same = stored == (given.api_key, given.api_secret, given.firm_service_key)
    return None if same else "updated"


def mark_needs_attention(*, session: Session, account_id: int, error: str) -> None:
    """Credentials were rejected mid-sync: flag the connection; the account's work pauses (R6)."""
    row = get_connection(session=session, account_id=account_id)
    if row is None or row.state != ConnectionState.CONNECTED:
        return
    record_change(
        session=session, at=clock_of(session)(), actor="engine", account_id=account_id, entity="connection",
        entity_id=account_id, field="state", old=row.state,
        new=ConnectionState.NEEDS_ATTENTION.value,
    )  # fmt: skip
    row.state = ConnectionState.NEEDS_ATTENTION
    row.last_error = error[:500]
    session.add(row)

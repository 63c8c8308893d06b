"""Facts the store keeps about itself (the ``store_meta`` table): what made it and which key.

- ``kind``: ``demo`` when demo mode created the store. Demo mode (no login, data seeded and
  reset) opens only such a store or an empty one, which it marks (:func:`claim_for_demo`), and
  resets only such a store (:func:`wipe_demo_store`); nothing else ever writes it.
- ``key_fingerprint``: the fingerprint of the encryption key the stored credentials were
  encrypted with (:func:`sync_engine.crypto.key_fingerprint`), so a wrong key is named as such.

Functions take a session and never open one, except :func:`check_key`, which the runtime calls
once at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from sync_engine.crypto import SecretBox, SecretKeyError
from sync_engine.db import Database, upsert_insert
from sync_engine.models import Account, ClockworkConnection, ConnectionState, StoreMeta, table_of

KIND = "kind"
DEMO = "demo"
KEY_FINGERPRINT = "key_fingerprint"


def _on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def get_meta(*, session: Session, key: str) -> str | None:
    """The value recorded under ``key``, or None."""
    return session.exec(select(StoreMeta.value).where(StoreMeta.key == key)).first()


def set_meta(*, session: Session, key: str, value: str, at: datetime) -> None:
    """Record ``value`` under ``key`` (an upsert: concurrent writers do not collide)."""
    table = table_of(StoreMeta)
    insert = upsert_insert(session.get_bind().dialect.name)
    statement = insert(table).values(key=key, value=value, updated_at=at)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.key], set_={"value": value, "updated_at": at}
        )
    )


def is_demo_store(*, session: Session) -> bool:
    """Whether demo mode created this store."""
    return get_meta(session=session, key=KIND) == DEMO


def claim_for_demo(*, session: Session, at: datetime) -> bool:
    """Whether demo mode may use this store: a demo store, or an empty one, which is marked a
    demo store in the caller's transaction. False (nothing written) for any other store."""
    if _on_postgres(session):  # no account may appear between the check and the mark
        session.execute(sa.text("LOCK TABLE account IN SHARE MODE"))
    if is_demo_store(session=session):
        return True
    if session.exec(select(Account.id).limit(1)).first() is not None:
        return False
    set_meta(session=session, key=KIND, value=DEMO, at=at)
    return True


def wipe_demo_store(*, session: Session) -> bool:
    """Delete every row of every table but ``store_meta`` (children first) when this is a demo
    store, in the caller's transaction that checked it; False (nothing deleted) otherwise."""
    keep = table_of(StoreMeta)
    if _on_postgres(session):  # the mark cannot change between the check and the delete
        session.execute(sa.text("LOCK TABLE store_meta IN SHARE MODE"))
    if not is_demo_store(session=session):
        return False
    for table in reversed(SQLModel.metadata.sorted_tables):
        if table is not keep:
            session.execute(sa.delete(table))
    return True


def credential_tokens(*, session: Session) -> list[tuple[int, str]]:
    """(account id, encrypted API key) of every connection that holds credentials."""
    rows = session.exec(
        select(ClockworkConnection.account_id, ClockworkConnection.api_key_token).where(
            ClockworkConnection.state != ConnectionState.DISCONNECTED,
            col(ClockworkConnection.api_key_token) != "",
        )
    ).all()
    return [(account_id, token) for account_id, token in rows]


def holds_credentials(database: Database) -> bool:
    """Whether any connection of the store holds encrypted credentials."""
    with database.read() as session:
        return bool(credential_tokens(session=session))


@dataclass(frozen=True)
class KeyProblem:
    """The configured key does not decrypt some stored credentials: why, and whose."""

    message: str
    account_ids: tuple[int, ...]


def check_key(
    database: Database, box: SecretBox, *, clock: Callable[[], datetime]
) -> KeyProblem | None:
    """Check the key against the store at start-up.

    The box learns the fingerprint the store records (so its errors can name a wrong key). When
    every stored credential decrypts, the store records this key's fingerprint; otherwise the
    problem names the key, the one the store expects, and the accounts affected.
    """
    with database.read() as session:
        recorded = get_meta(session=session, key=KEY_FINGERPRINT)
        tokens = credential_tokens(session=session)
    box.store_fingerprint = recorded
    unreadable = []
    for account_id, token in tokens:
        try:
            box.decrypt(token)
        except SecretKeyError:
            unreadable.append(account_id)
    if not unreadable:
        if recorded != box.fingerprint:
            with database.write() as session:
                set_meta(session=session, key=KEY_FINGERPRINT, value=box.fingerprint, at=clock())
            box.store_fingerprint = box.fingerprint
        return None
    return KeyProblem(
        message=f"{box.cannot_decrypt()} ({len(unreadable)} of {len(tokens)} connections)",
        account_ids=tuple(sorted(unreadable)),
    )

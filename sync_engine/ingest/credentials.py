"""Who may deliver to an account: its API tokens and its webhook signing secret.

A token is ``cwk_`` and 43 URL-safe characters (256 random bits); it is shown once and stored as
its SHA-256, with the first characters kept as a hint for people. The signing secret is a
Standard Webhooks ``whsec_`` secret, encrypted with the store's key. Creating and revoking a
token and setting the secret are audited; the token and the secret never reach the audit log.
:func:`authenticate` answers who a request is from, or None, never saying which part was wrong.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from sync_engine.audit import record_change
from sync_engine.crypto import SecretBox
from sync_engine.db import clock_of
from sync_engine.ingest.models import IngestSecret, IngestToken
from sync_engine.models import table_of
from sync_engine.services.accounts import get_account
from sync_engine.services.errors import InvalidInputError, NotFoundError
from sync_engine.signing import SignatureError, new_secret, verify

Clock = Callable[[], datetime]

TOKEN_PREFIX = "cwk_"
# Last use is written at most this often per token: a write per request would cost more than
# the request's own work on a busy token.
LAST_USED_GRANULARITY = timedelta(seconds=60)


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``token`` is its only appearance in clear."""

    id: int
    account_id: int
    name: str
    token: str


@dataclass(frozen=True)
class Caller:
    """Who a request is from: a token (``token_id``) or the account's signing secret."""

    account_id: int
    token_id: int | None
    label: str

    @property
    def rate_key(self) -> str:
        """What the rate limit counts by: the token, or the account's secret."""
        return f"token:{self.token_id}" if self.token_id else f"secret:{self.account_id}"


def create_token(*, session: Session, account_id: int, name: str, actor: str) -> NewToken:
    """A new API token for an account, audited; the clear token is returned once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInputError("token name must be 1 to 100 characters")
    get_account(session=session, ref=account_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock_of(session)()
    row = IngestToken(
        account_id=account_id, name=name, token_hash=token_hash(token),
        hint=token[: len(TOKEN_PREFIX) + 4], created_at=now, created_by=actor,
    )  # fmt: skip
    session.add(row)
    session.flush()
    assert row.id is not None
    record_change(
        session=session, at=now, actor=actor, account_id=account_id, entity="ingest_token",
        entity_id=row.id, field="created", old=None, new=f"{name} ({row.hint}…)",
    )  # fmt: skip
    return NewToken(id=row.id, account_id=account_id, name=name, token=token)


def list_tokens(*, session: Session, account_id: int) -> list[IngestToken]:
    """An account's tokens, newest first, revoked ones included (never the token itself)."""
    query = select(IngestToken).where(IngestToken.account_id == account_id)
    return list(session.exec(query.order_by(col(IngestToken.id).desc())).all())


def revoke_token(*, session: Session, account_id: int, token_id: int, actor: str) -> IngestToken:
    """Revoke a token of an account (refused within the serve processes' token cache time, 5 s),
    audited; revoking twice is a no-op."""
    row = session.get(IngestToken, token_id)
    if row is None or row.account_id != account_id:
        raise NotFoundError(f"no token {token_id} for this account")
    if row.revoked_at is None:
        now = clock_of(session)()
        row.revoked_at = now
        session.add(row)
        record_change(
            session=session, at=now, actor=actor, account_id=account_id, entity="ingest_token",
            entity_id=row.id, field="revoked", old=None, new=f"{row.name} ({row.hint}…)",
        )  # fmt: skip
    return row


def set_signing_secret(*, session: Session, account_id: int, box: SecretBox, actor: str) -> str:
    """A new signing secret for an account (replacing any), audited; returned once in clear."""
    get_account(session=session, ref=account_id)
    secret = new_secret()
    now = clock_of(session)()
    hint = secret[:10]
    row = session.get(IngestSecret, account_id)
    old = f"{row.hint}…" if row else None
    if row is None:
        row = IngestSecret(account_id=account_id, secret_token="", hint=hint, created_at=now)
    row.secret_token, row.hint, row.created_at = box.encrypt(secret), hint, now
    session.add(row)
    record_change(
        session=session, at=now, actor=actor, account_id=account_id, entity="ingest_secret",
        entity_id=account_id, field="signing_secret", old=old, new=f"{hint}…",
    )  # fmt: skip
    return secret


def signing_secret_hint(*, session: Session, account_id: int) -> str | None:
    """The first characters of an account's signing secret, or None without one."""
    row = session.get(IngestSecret, account_id)
    return f"{row.hint}…" if row else None


_TOKENS = table_of(IngestToken)
_SECRETS = table_of(IngestSecret)
_TOKEN_BY_HASH = sa.select(
    _TOKENS.c.id, _TOKENS.c.account_id, _TOKENS.c.name, _TOKENS.c.revoked_at,
    _TOKENS.c.last_used_at,
).where(_TOKENS.c.token_hash == sa.bindparam("hash"))  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """An authentication's outcome: the caller, or why not (for the log, never the client)."""

    caller: Caller | None
    problem: str | None = None
    touch: bool = False  # the token's last use is due to be written


@dataclass
class _KnownToken:
    id: int
    account_id: int
    name: str
    revoked_at: datetime | None
    last_used_at: datetime | None
    read_at: float


class TokenCache:
    """The bearer tokens this process read from the store in the last ``ttl`` seconds: a busy
    token is looked up once per ``ttl``, not once per request, and a revocation (made by any
    process) is seen within ``ttl`` seconds. Unknown tokens are not kept, so a token just created
    works at once."""

    def __init__(
        self, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic, size: int = 10_000
    ) -> None:
        self.ttl, self._clock, self._size = ttl, clock, size
        self._by_hash: dict[str, _KnownToken] = {}
        self._lock = threading.Lock()

    def lookup(self, connection: sa.Connection, hashed: str) -> _KnownToken | None:
        """The token with this hash, from memory if read less than ``ttl`` seconds ago."""
        now = self._clock()
        known = self._by_hash.get(hashed)
        if known is not None and now - known.read_at < self.ttl:
            return known
        row = connection.execute(_TOKEN_BY_HASH, {"hash": hashed}).first()
        if row is None:
            self._by_hash.pop(hashed, None)
            return None
        known = _KnownToken(row.id, row.account_id, row.name, row.revoked_at, row.last_used_at, now)
        if self.ttl > 0:
            with self._lock:
                if len(self._by_hash) >= self._size:
                    self._by_hash.clear()
                self._by_hash[hashed] = known
        return known

    def touched(self, token_id: int, now: datetime) -> None:
        """The token's last use was just written: not due again before the granularity."""
        for known in list(self._by_hash.values()):
            if known.id == token_id:
                known.last_used_at = now


def authenticate(
    connection: sa.Connection,
    *,
    account_id: int,
    authorization: str | None,
    webhook_headers: tuple[str | None, str | None, str | None],
    body: bytes,
    box: SecretBox,
    now: datetime,
    tokens: TokenCache | None = None,
) -> Verdict:
    """Who a request to ``account_id`` is from: a bearer token of that account that is not
    revoked, or a valid Standard Webhooks signature with the account's secret. ``tokens``: read
    tokens through that cache (a revocation then takes up to its ``ttl`` to be seen)."""
    scheme, _, credential = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        hashed = token_hash(credential.strip())
        row: Any = (
            tokens.lookup(connection, hashed)
            if tokens is not None
            else connection.execute(_TOKEN_BY_HASH, {"hash": hashed}).first()
        )
        if row is None:
            return Verdict(None, "unknown token")
        if row.account_id != account_id:
            return Verdict(None, f"a token of another account (token {row.id})")
        if row.revoked_at is not None:
            return Verdict(None, f"revoked token {row.id} ({row.name})")
        last = row.last_used_at
        due = last is None or now - _aware(last) >= LAST_USED_GRANULARITY
        return Verdict(Caller(account_id, row.id, f"token {row.id} ({row.name})"), touch=due)
    msg_id, timestamp, signature = webhook_headers
    if not (msg_id or timestamp or signature):
        return Verdict(None, "no credentials")
    secret_row = connection.execute(
        sa.select(_SECRETS.c.secret_token).where(_SECRETS.c.account_id == account_id)
    ).first()
    if secret_row is None:
        return Verdict(None, "signed, but the account has no signing secret")
    try:
        verify(
            box.decrypt(secret_row.secret_token), msg_id, timestamp, signature, body,
            now=now.timestamp(),
        )  # fmt: skip
    except SignatureError as exc:
        return Verdict(None, f"signature: {exc}")
    return Verdict(Caller(account_id, None, "signing secret"))


def touch_token(connection: sa.Connection, *, token_id: int, now: datetime) -> None:
    """Record a token's use (called when :class:`Verdict` says it is due)."""
    connection.execute(sa.update(_TOKENS).where(_TOKENS.c.id == token_id).values(last_used_at=now))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

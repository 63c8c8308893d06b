"""The ingest API's tables: API tokens, the signing secret, sequence references, deliveries.

Tokens are stored as a SHA-256 of a 256-bit random token (a slow hash buys nothing for a secret
that cannot be guessed); the signing secret is a Fernet token like the Clockwork credentials,
because verifying an HMAC needs the key itself. ``ingest_delivery`` is both the log the
Integrations page shows and the idempotency record: an accepted delivery's key and answer, so a
retry of it is answered the same without doing anything again.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from sync_engine.models import UTCDateTime, utcnow


class DeliveryOutcome(StrEnum):
    """What became of one request to the ingest API."""

    ACCEPTED = "accepted"
    PARTIAL = "partial"  # a batch with some items refused
    REJECTED = "rejected"


class IngestToken(SQLModel, table=True):
    """An API token of one account: shown once at creation, kept as a hash, revocable."""

    __tablename__ = "ingest_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(sa_type=sa.String(100))
    token_hash: str = Field(sa_type=sa.String(64), unique=True)
    hint: str = Field(sa_type=sa.String(16), description="The token's first characters")
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    created_by: str = Field(sa_type=sa.String(200))
    last_used_at: datetime | None = Field(sa_type=UTCDateTime, default=None)
    revoked_at: datetime | None = Field(sa_type=UTCDateTime, default=None)


class IngestSecret(SQLModel, table=True):
    """An account's Standard Webhooks signing secret (``whsec_…``), encrypted at rest."""

    __tablename__ = "ingest_secret"

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    secret_token: str = Field(sa_type=sa.String(500))
    hint: str = Field(sa_type=sa.String(16))
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class IngestSequenceRef(SQLModel, table=True):
    """The outreach platform's id of a sequence (its campaign id), per account."""

    __tablename__ = "ingest_sequence_ref"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "ref", name="uq_ingest_sequence_ref_account_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    ref: str = Field(sa_type=sa.String(200))
    sequence_id: int = Field(foreign_key="sequence.id", index=True)


class IngestDelivery(SQLModel, table=True):
    """One request to the ingest API: its outcome, and for an accepted one with a delivery key
    (``webhook-id`` or ``Idempotency-Key``) the answer a retry gets."""

    __tablename__ = "ingest_delivery"
    __table_args__ = (
        sa.UniqueConstraint(
            "account_id", "delivery_key", name="uq_ingest_delivery_account_delivery_key"
        ),
        sa.Index("ix_ingest_delivery_account_id", "account_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    received_at: datetime = Field(sa_type=UTCDateTime, index=True)
    delivery_key: str | None = Field(default=None, sa_type=sa.String(200))
    route: str = Field(sa_type=sa.String(120))
    token_id: int | None = Field(default=None)
    outcome: str = Field(sa_type=sa.String(16))
    status_code: int
    reason: str | None = Field(default=None, sa_type=sa.String(500))
    items: int = 0
    answer: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)

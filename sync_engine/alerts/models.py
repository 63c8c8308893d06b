"""The alerts' tables and vocabulary: destinations, rule settings, incident state, delivery log.

Destinations hold their target (a webhook or Slack URL, or the SMTP settings) and the webhook's
signing secret as Fernet tokens, like Clockwork credentials: a Slack incoming-webhook URL is
itself a secret. :class:`AlertState` is one row per account and rule: whether an incident is open,
so each one is told once when it starts and once when it resolves. :class:`AlertDelivery` is the
outbox and the alert log at once: one row per message and destination, retried until delivered.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from sync_engine.models import UTCDateTime, utcnow


class AlertRule(StrEnum):
    """The conditions an account can be alerted on."""

    CREDENTIALS_REJECTED = "credentials_rejected"
    FAILURE_RATE = "failure_rate"
    QUEUE_STALLED = "queue_stalled"
    HEARTBEAT_STALE = "heartbeat_stale"
    DRIFT_FOUND = "drift_found"


class DestinationKind(StrEnum):
    """Where alerts go."""

    WEBHOOK = "webhook"
    SLACK = "slack"
    EMAIL = "email"


class AlertEvent(StrEnum):
    """What a message says: an incident started, it resolved, or a test."""

    FIRED = "fired"
    RESOLVED = "resolved"
    TEST = "test"


class DeliveryState(StrEnum):
    """Where a message is on its way to a destination."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def _str(length: int, **kwargs: Any) -> Any:
    return Field(sa_type=sa.String(length), **kwargs)


class AlertDestination(SQLModel, table=True):
    """One place an account's alerts are sent to."""

    __tablename__ = "alert_destination"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    kind: str = _str(16)
    label: str = _str(200, default="")
    target_token: str = _str(4000, description="Encrypted URL, or the SMTP settings as JSON")
    target_hint: str = _str(200, description="What people see: host and masked path, or inbox")
    signing_secret_token: str | None = _str(500, default=None)
    enabled: bool = True
    created_at: datetime = _ts(default_factory=utcnow)


class AlertRuleSetting(SQLModel, table=True):
    """An account's choice for one rule; without a row the rule's default applies."""

    __tablename__ = "alert_rule_setting"

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    rule: str = Field(sa_type=sa.String(40), primary_key=True)
    enabled: bool = True
    threshold: float | None = None
    updated_at: datetime = _ts(default_factory=utcnow)


class AlertState(SQLModel, table=True):
    """Whether an incident of ``rule`` is open for the account, since when, and why."""

    __tablename__ = "alert_state"

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    rule: str = Field(sa_type=sa.String(40), primary_key=True)
    firing: bool = False
    since: datetime | None = _ts(default=None)
    resolved_at: datetime | None = _ts(default=None)
    detail: str | None = _str(500, default=None)
    evaluated_at: datetime = _ts(default_factory=utcnow)


class AlertDelivery(SQLModel, table=True):
    """One message to one destination: the outbox row and, once sent, the alert log's entry."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        sa.Index("ix_alert_delivery_due", "state", "next_attempt_at"),
        sa.Index("ix_alert_delivery_account_id", "account_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    destination_id: int | None = Field(default=None, foreign_key="alert_destination.id")
    destination_hint: str = _str(200, default="")
    rule: str = _str(40)
    event: str = _str(16)
    message_id: str = _str(64, unique=True)
    title: str = _str(300)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    state: str = _str(16, default=DeliveryState.PENDING)
    attempts: int = 0
    created_at: datetime = _ts(default_factory=utcnow)
    next_attempt_at: datetime | None = _ts(default=None)
    last_attempt_at: datetime | None = _ts(default=None)
    delivered_at: datetime | None = _ts(default=None)
    last_status: int | None = None
    last_error: str | None = _str(500, default=None)

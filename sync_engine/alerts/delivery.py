"""Delivering alert messages: the outbox, its retries, and the three kinds of destination.

A message is an :class:`~sync_engine.alerts.models.AlertDelivery` row written in the same
transaction as the incident it tells about; :func:`deliver_due` claims due rows one by one (an
``UPDATE`` that moves their next attempt past the claim, so two engines never send the same row
at once), sends each outside any transaction and records the answer. A failed send is retried with
the engine's backoff (exponential, jittered) until :attr:`DeliveryPolicy.max_attempts`; a
destination that refuses for good (400, 401, 403, 404, 410) is not retried.

- **webhook**: JSON, signed per Standard Webhooks (``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature`` from :func:`sync_engine.signing.sign`); the message id is the same on
  every retry, so a receiver can drop a repeat;
- **slack**: Slack's incoming-webhook body, ``{"text": ...}``;
- **email**: a plain-text mail over SMTP (``smtplib``; STARTTLS and login when configured).

Targets are secrets (a Slack webhook URL is a credential): they are decrypted only to send, and
no error text recorded here contains them.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import col, select

from sync_engine.alerts.models import (
    AlertDelivery,
    AlertDestination,
    AlertEvent,
    DeliveryState,
    DestinationKind,
)
from sync_engine.crypto import SecretBox
from sync_engine.domain import printable
from sync_engine.engine.backoff import retry_delay
from sync_engine.models import table_of
from sync_engine.runtime import Runtime
from sync_engine.signing import sign

log = logging.getLogger(__name__)

DELIVERY = table_of(AlertDelivery)
# Answers that say the destination itself is wrong: retrying cannot help.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 410})
USER_AGENT = "clockwork-sync-alerts/1"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How long a send may take, how often a message is retried and how far apart."""

    timeout_seconds: float = 10.0
    max_attempts: int = 12
    backoff_base_seconds: float = 10.0
    backoff_cap_seconds: float = 900.0
    claim_seconds: float = 60.0


@dataclass(frozen=True)
class Sent:
    """How one send ended: delivered, or why not (plain, with no secret in it)."""

    delivered: bool
    status: int | None = None
    error: str | None = None

    @property
    def permanent(self) -> bool:
        """The destination refused in a way a retry cannot fix."""
        return self.status in PERMANENT_STATUSES


@dataclass
class DeliveryCounts:
    """What one round of deliveries did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    results: dict[int, Sent] = field(default_factory=dict)


# --- message bodies -------------------------------------------------------------------------


def message_text(payload: dict[str, Any]) -> str:
    """The message as one or two lines of plain text (Slack, e-mail, logs)."""
    title = str(payload.get("title", ""))
    detail = str(payload.get("detail", ""))
    prefix = {
        AlertEvent.FIRED: "Alert",
        AlertEvent.RESOLVED: "Resolved",
        AlertEvent.TEST: "Test",
    }.get(AlertEvent(payload.get("event", AlertEvent.TEST)), "Alert")
    text = f"[Clockwork Sync] {prefix}: {title}"
    return f"{text}\n{detail}" if detail else text


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The webhook's JSON body, with a stable key order."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def slack_body(payload: dict[str, Any]) -> dict[str, Any]:
    """Slack's incoming-webhook body."""
    return {"text": message_text(payload)}


# --- senders --------------------------------------------------------------------------------


def _scrub(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "****")
    return printable(text)[:500]


def _http_post(
    url: str, *, content: bytes, headers: dict[str, str], policy: DeliveryPolicy
) -> Sent:
    try:
        with httpx.Client(timeout=policy.timeout_seconds, follow_redirects=False) as client:
            response = client.post(url, content=content, headers=headers)
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        return Sent(False, None, _scrub(f"could not reach the destination: {reason}", url))
    if 200 <= response.status_code < 300:
        return Sent(True, response.status_code)
    return Sent(
        False,
        response.status_code,
        _scrub(f"the destination answered {response.status_code}: {response.text[:200]}", url),
    )


def send_webhook(
    url: str, secret: str, payload: dict[str, Any], *, message_id: str, at: datetime,
    policy: DeliveryPolicy,
) -> Sent:  # fmt: skip
    """POST the JSON payload, signed per Standard Webhooks."""
    body = webhook_body(payload)
    timestamp = int(at.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }
    return _http_post(url, content=body, headers=headers, policy=policy)


def send_slack(url: str, payload: dict[str, Any], *, policy: DeliveryPolicy) -> Sent:
    """POST Slack's incoming-webhook JSON."""
    body = json.dumps(slack_body(payload)).encode()
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    return _http_post(url, content=body, headers=headers, policy=policy)


def send_email(smtp: dict[str, Any], payload: dict[str, Any], *, policy: DeliveryPolicy) -> Sent:
    """Send the message as a plain-text e-mail over SMTP."""
    message = EmailMessage()
    text = message_text(payload)
    message["Subject"] = text.splitlines()[0]
    message["From"] = smtp["sender"]
    message["To"] = ", ".join(smtp["recipients"])
    message["Message-ID"] = f"<{payload.get('id', 'alert')}@clockwork-sync>"
    message.set_content(text + "\n")
    password = str(smtp.get("password") or "")
    try:
        with smtplib.SMTP(smtp["host"], int(smtp["port"]), timeout=policy.timeout_seconds) as s:
            if smtp.get("starttls"):
                s.starttls(context=ssl.create_default_context())
            if smtp.get("username"):
                s.login(str(smtp["username"]), password)
            s.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        reason = str(exc) or type(exc).__name__
        return Sent(
            False,
            None,
            _scrub(f"the mail server refused or could not be reached: {reason}", password),
        )
    return Sent(True)


def send(
    destination: AlertDestination, box: SecretBox, row: AlertDelivery, *, at: datetime,
    policy: DeliveryPolicy,
) -> Sent:  # fmt: skip
    """Send one message to its destination (decrypting the target only for this)."""
    try:
        target = box.decrypt(destination.target_token)
        secret = (
            box.decrypt(destination.signing_secret_token)
            if destination.signing_secret_token
            else ""
        )
    except Exception as exc:  # a key that no longer decrypts it: say so, never the token
        return Sent(False, None, f"the destination's settings cannot be read: {exc}"[:500])
    kind = DestinationKind(destination.kind)
    if kind == DestinationKind.WEBHOOK:
        return send_webhook(
            target, secret, row.payload, message_id=row.message_id, at=at, policy=policy
        )
    if kind == DestinationKind.SLACK:
        return send_slack(target, row.payload, policy=policy)
    return send_email(json.loads(target), row.payload, policy=policy)


# --- the outbox -----------------------------------------------------------------------------


def _claim(runtime: Runtime, delivery_id: int, now: datetime, policy: DeliveryPolicy) -> bool:
    with runtime.db.transaction() as connection:
        claimed = connection.execute(
            sa.update(DELIVERY)
            .where(DELIVERY.c.id == delivery_id)
            .where(DELIVERY.c.state == DeliveryState.PENDING)
            .where(DELIVERY.c.next_attempt_at <= now)
            .values(next_attempt_at=now + timedelta(seconds=policy.claim_seconds))
        )
        return claimed.rowcount == 1


def _record(
    runtime: Runtime, row: AlertDelivery, sent: Sent, now: datetime, policy: DeliveryPolicy
) -> str:
    attempts = row.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status": sent.status,
        "last_error": sent.error,
    }
    if sent.delivered:
        values.update(state=DeliveryState.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif sent.permanent or attempts >= policy.max_attempts:
        values.update(state=DeliveryState.FAILED, next_attempt_at=None)
    else:
        delay = retry_delay(
            attempts, base=policy.backoff_base_seconds, cap=policy.backoff_cap_seconds
        )
        values.update(next_attempt_at=now + timedelta(seconds=delay))
    with runtime.db.transaction() as connection:
        connection.execute(sa.update(DELIVERY).where(DELIVERY.c.id == row.id).values(**values))
    return str(values.get("state", "retrying"))


def deliver(
    runtime: Runtime,
    delivery_ids: list[int],
    *,
    policy: DeliveryPolicy | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryCounts:
    """Send these due messages now (each claimed first; one already being sent is skipped)."""
    policy = policy or DeliveryPolicy()
    clock = clock or runtime.clock
    counts = DeliveryCounts()
    for delivery_id in delivery_ids:
        now = clock()
        if not _claim(runtime, delivery_id, now, policy):
            continue
        with runtime.db.read() as session:
            row = session.get(AlertDelivery, delivery_id)
            destination = (
                session.get(AlertDestination, row.destination_id)
                if row is not None and row.destination_id is not None
                else None
            )
        if row is None:
            continue
        if destination is None:
            sent = Sent(False, 410, "the destination was removed")
        else:
            sent = send(destination, runtime.box, row, at=now, policy=policy)
        if not sent.delivered:
            log.warning(
                "alert %s to destination %s not delivered: %s",
                row.message_id, row.destination_id, sent.error,
            )  # fmt: skip
        outcome = _record(runtime, row, sent, clock(), policy)
        counts.results[delivery_id] = sent
        if outcome == DeliveryState.DELIVERED:
            counts.delivered += 1
        elif outcome == DeliveryState.FAILED:
            counts.failed += 1
        else:
            counts.retrying += 1
    return counts


def due_deliveries(runtime: Runtime, *, now: datetime, limit: int = 200) -> list[int]:
    """Ids of the messages due to be sent, oldest first."""
    with runtime.db.read() as session:
        ids = session.exec(
            select(AlertDelivery.id)
            .where(AlertDelivery.state == DeliveryState.PENDING)
            .where(col(AlertDelivery.next_attempt_at) <= now)
            .order_by(col(AlertDelivery.id))
            .limit(limit)
        ).all()
    return [delivery_id for delivery_id in ids if delivery_id is not None]


def deliver_due(
    runtime: Runtime, *, policy: DeliveryPolicy | None = None, limit: int = 200
) -> DeliveryCounts:
    """Send every message that is due (the scheduler's job calls this after evaluating)."""
    return deliver(
        runtime, due_deliveries(runtime, now=runtime.clock(), limit=limit), policy=policy
    )

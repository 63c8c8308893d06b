"""Configuring alerts: destinations, rule choices, the current incidents, the log and a test send.

These are the service functions the CLI (``cwsync alerts``) and the dashboard's Alerts page call.
A destination's URL is checked like a Clockwork base URL (https, or plain http only to this
machine unless ``CWSYNC_ALLOW_INSECURE_HTTP``); its target and signing secret are stored
encrypted and shown masked. Every change is in the audit log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, EmailStr, Field, ValidationError, field_validator
from sqlmodel import Session, col, func, select

from sync_engine.alerts.delivery import DeliveryCounts, DeliveryPolicy, deliver
from sync_engine.alerts.evaluate import queue_messages
from sync_engine.alerts.models import (
    AlertDelivery,
    AlertDestination,
    AlertEvent,
    AlertRule,
    AlertRuleSetting,
    AlertState,
    DeliveryState,
    DestinationKind,
)
from sync_engine.alerts.rules import RULES, effective_choices
from sync_engine.audit import record_change
from sync_engine.crypto import mask
from sync_engine.db import clock_of
from sync_engine.runtime import Runtime
from sync_engine.services.accounts import get_account
from sync_engine.services.errors import InvalidInputError, NotFoundError, invalid_input
from sync_engine.signing import new_secret


class DestinationInput(BaseModel):
    """What staff type to add a destination; URL for webhook and Slack, SMTP for e-mail."""

    kind: DestinationKind
    label: str = Field(default="", max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    smtp_host: str | None = Field(default=None, max_length=255)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_username: str | None = Field(default=None, max_length=255)
    smtp_password: str | None = Field(default=None, max_length=500)
    email_from: EmailStr | None = None
    email_to: list[EmailStr] = Field(default_factory=list, max_length=20)

    @field_validator("url", "smtp_host", "smtp_username", "smtp_password", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("email_to", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


def _check_url(url: str | None, *, allow_insecure_http: bool) -> str:
    if not url:
        raise InvalidInputError("url: a webhook or Slack destination needs its URL")
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        raise InvalidInputError("url: not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInputError("url: must be an http:// or https:// URL with a host")
    if parsed.scheme == "http" and not allow_insecure_http:
        host = parsed.host
        loopback = host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")
        if not loopback:
            raise InvalidInputError(
                "url: plain http:// to another machine would send alerts unencrypted; use "
                "https:// (or CWSYNC_ALLOW_INSECURE_HTTP=true)"
            )
    return str(parsed)


def url_hint(url: str) -> str:
    """A URL as people see it: scheme and host, the path masked (it may be the secret)."""
    parsed = httpx.URL(url)
    path = parsed.raw_path.decode("ascii", "replace")
    shown = f"/…{mask(path)[4:]}" if len(path) > 1 else ""
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{shown}"[:200]


@dataclass(frozen=True)
class NewDestination:
    """A destination just added, and its signing secret (shown once, for webhooks)."""

    destination: AlertDestination
    signing_secret: str | None


def add_destination(
    runtime: Runtime, *, account_id: int, fields: dict[str, Any], actor: str
) -> NewDestination:
    """Check and store a destination (target encrypted); a webhook gets a new signing secret."""
    try:
        given = DestinationInput(**fields)
    except ValidationError as exc:
        raise invalid_input(exc) from None
    box = runtime.box
    secret: str | None = None
    if given.kind == DestinationKind.EMAIL:
        if not given.smtp_host or not given.email_from or not given.email_to:
            raise InvalidInputError(
                "email: the mail server (smtp_host), a sender and at least one recipient are needed"
            )
        target = json.dumps(
            {
                "host": given.smtp_host,
                "port": given.smtp_port,
                "starttls": given.smtp_starttls,
                "username": given.smtp_username,
                "password": given.smtp_password,
                "sender": str(given.email_from),
                "recipients": [str(to) for to in given.email_to],
            }
        )
        hint = f"{', '.join(str(to) for to in given.email_to)} via {given.smtp_host}"[:200]
    else:
        target = _check_url(given.url, allow_insecure_http=runtime.settings.allow_insecure_http)
        hint = url_hint(target)
        if given.kind == DestinationKind.WEBHOOK:
            secret = new_secret()
    now = runtime.clock()
    with runtime.db.write() as session:
        get_account(session=session, ref=account_id)
        row = AlertDestination(
            account_id=account_id,
            kind=given.kind,
            label=given.label.strip(),
            target_token=box.encrypt(target),
            target_hint=hint,
            signing_secret_token=box.encrypt(secret) if secret else None,
            created_at=now,
        )
        session.add(row)
        session.flush()
        record_change(
            session=session, at=now, actor=actor, account_id=account_id,
            entity="alert_destination", entity_id=row.id, field="added", old=None,
            new=f"{given.kind.value} {hint}",
        )  # fmt: skip
    return NewDestination(row, secret)


def list_destinations(*, session: Session, account_id: int) -> list[AlertDestination]:
    """The account's destinations, oldest first."""
    return list(
        session.exec(
            select(AlertDestination)
            .where(AlertDestination.account_id == account_id)
            .order_by(col(AlertDestination.id))
        )
    )


def _destination(session: Session, destination_id: int) -> AlertDestination:
    row = session.get(AlertDestination, destination_id)
    if row is None:
        raise NotFoundError(f"no alert destination {destination_id}")
    return row


def remove_destination(*, session: Session, destination_id: int, actor: str) -> None:
    """Delete a destination; its log entries stay (messages still waiting for it are failed)."""
    row = _destination(session, destination_id)
    now = clock_of(session)()
    for delivery in session.exec(
        select(AlertDelivery).where(AlertDelivery.destination_id == destination_id)
    ):
        if delivery.state == DeliveryState.PENDING:
            delivery.state = DeliveryState.FAILED
            delivery.last_error = "the destination was removed"
            delivery.next_attempt_at = None
        delivery.destination_id = None
        session.add(delivery)
    record_change(
        session=session, at=now, actor=actor, account_id=row.account_id,
        entity="alert_destination", entity_id=row.id, field="removed",
        old=f"{row.kind} {row.target_hint}", new=None,
    )  # fmt: skip
    session.delete(row)


@dataclass(frozen=True)
class RuleView:
    """One rule of an account as the page and ``cwsync alerts list`` show it."""

    rule: AlertRule
    label: str
    enabled: bool
    threshold: float | None
    threshold_label: str | None
    firing: bool
    since: datetime | None
    detail: str | None


def rules_of(*, session: Session, account_id: int, sync_interval_seconds: float) -> list[RuleView]:
    """Every rule with the account's choice and whether an incident is open."""
    get_account(session=session, ref=account_id)
    choices = effective_choices(session=session, sync_interval_seconds=sync_interval_seconds)
    states = {
        row.rule: row
        for row in session.exec(select(AlertState).where(AlertState.account_id == account_id))
    }
    views = []
    for rule, spec in RULES.items():
        choice = choices[account_id, rule]
        state = states.get(rule.value)
        firing = bool(state and state.firing)
        views.append(
            RuleView(
                rule=rule,
                label=spec.label,
                enabled=choice.enabled,
                threshold=choice.threshold,
                threshold_label=spec.threshold_label,
                firing=firing,
                since=state.since if state and firing else None,
                detail=state.detail if state and firing else None,
            )
        )
    return views


def set_rule(
    *,
    session: Session,
    account_id: int,
    rule: AlertRule | str,
    enabled: bool | None = None,
    threshold: float | None = None,
    actor: str,
) -> None:
    """Switch a rule on or off for the account, or change its threshold."""
    try:
        rule = AlertRule(rule)
    except ValueError:
        raise InvalidInputError(
            f"rule: {rule!r} is not one of {', '.join(r.value for r in AlertRule)}"
        ) from None
    get_account(session=session, ref=account_id)
    spec = RULES[rule]
    if threshold is not None:
        if spec.threshold_label is None:
            raise InvalidInputError(f"threshold: the rule {rule.value} has no threshold")
        if threshold < 0 or (rule == AlertRule.FAILURE_RATE and threshold > 1):
            raise InvalidInputError(
                f"threshold: {threshold:g} is out of range ({spec.threshold_label})"
            )
    row = session.get(AlertRuleSetting, (account_id, rule.value))
    if row is None:
        row = AlertRuleSetting(account_id=account_id, rule=rule.value)
    now = clock_of(session)()
    if enabled is not None:
        record_change(
            session=session, at=now, actor=actor, account_id=account_id, entity="alert_rule",
            entity_id=rule.value, field="enabled", old=row.enabled, new=enabled,
        )  # fmt: skip
        row.enabled = enabled
    if threshold is not None:
        record_change(
            session=session, at=now, actor=actor, account_id=account_id, entity="alert_rule",
            entity_id=rule.value, field="threshold", old=row.threshold, new=threshold,
        )  # fmt: skip
        row.threshold = threshold
    row.updated_at = now
    session.add(row)


def count_log(*, session: Session, account_id: int) -> int:
    """How many messages the account's alert log holds."""
    return session.exec(
        select(func.count())
        .select_from(AlertDelivery)
        .where(AlertDelivery.account_id == account_id)
    ).one()


def alert_log(
    *, session: Session, account_id: int, limit: int = 50, offset: int = 0
) -> list[AlertDelivery]:
    """The account's messages, newest first: what, to where, and whether it arrived."""
    return list(
        session.exec(
            select(AlertDelivery)
            .where(AlertDelivery.account_id == account_id)
            .order_by(col(AlertDelivery.id).desc())
            .limit(limit)
            .offset(offset)
        )
    )


def send_test(
    runtime: Runtime,
    *,
    account_id: int,
    destination_id: int | None = None,
    actor: str,
    policy: DeliveryPolicy | None = None,
) -> DeliveryCounts:
    """Send a test alert to one destination (or all of the account's) now, and say how it went.

    A test that does not arrive at once is retried like any alert and stays in the log."""
    now = runtime.clock()
    with runtime.db.write() as session:
        account = get_account(session=session, ref=account_id)
        if destination_id is not None:
            destination = _destination(session, destination_id)
            if destination.account_id != account_id:
                raise NotFoundError(f"no alert destination {destination_id} for this account")
        rows = queue_messages(
            session, account=account, rule="test", event=AlertEvent.TEST,
            title=f"Test alert for {account.name}",
            detail=f"Sent by {actor} to check that alerts arrive here.", since=None, now=now,
            destination_id=destination_id,
        )  # fmt: skip
        if not rows:
            raise InvalidInputError("the account has no alert destination: add one first")
        ids = [row.id for row in rows if row.id is not None]
    return deliver(runtime, ids, policy=policy)

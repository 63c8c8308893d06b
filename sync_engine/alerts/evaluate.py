"""Incidents: each rule's condition turned into "fired" once when it becomes true and "resolved"
once when it stops, with a message queued for every destination of the account.

:func:`evaluate` reads the conditions (:mod:`sync_engine.alerts.rules`) outside any transaction,
then in one short write transaction compares them with the stored :class:`AlertState` rows (locked
on PostgreSQL, so two engines evaluating at once open an incident once) and writes the
transitions and their messages together: a message is queued exactly when the state changes.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from sync_engine.alerts.models import (
    AlertDelivery,
    AlertDestination,
    AlertEvent,
    AlertRule,
    AlertState,
    DeliveryState,
)
from sync_engine.alerts.rules import Condition, conditions, effective_choices
from sync_engine.models import Account
from sync_engine.runtime import Runtime

log = logging.getLogger(__name__)

RULE_VALUES = frozenset(rule.value for rule in AlertRule)


@dataclass(frozen=True)
class Transition:
    """An incident that opened or resolved in this evaluation."""

    account_id: int
    rule: AlertRule
    event: AlertEvent
    title: str


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def new_message_id() -> str:
    """A message id, the same on every retry of the message (``webhook-id``)."""
    return f"msg_{uuid.uuid4().hex}"


def payload(
    *,
    message_id: str,
    event: AlertEvent,
    account: Account,
    rule: str,
    title: str,
    detail: str,
    since: datetime | None,
    at: datetime,
) -> dict[str, Any]:
    """The JSON a webhook receives (Slack and e-mail get its text)."""
    return {
        "id": message_id,
        "type": f"alert.{event.value}",
        "event": event.value,
        "account": {"id": account.id, "name": account.name},
        "rule": rule,
        "title": title,
        "detail": detail,
        "since": _iso(since),
        "at": _iso(at),
    }


def queue_messages(
    session: Session,
    *,
    account: Account,
    rule: str,
    event: AlertEvent,
    title: str,
    detail: str,
    since: datetime | None,
    now: datetime,
    destination_id: int | None = None,
) -> list[AlertDelivery]:
    """One message per enabled destination of the account (or only ``destination_id``), due now."""
    query = select(AlertDestination).where(AlertDestination.account_id == account.id)
    if destination_id is not None:
        query = query.where(AlertDestination.id == destination_id)
    else:
        query = query.where(AlertDestination.enabled == True)  # noqa: E712
    rows = []
    for destination in session.exec(query):
        message_id = new_message_id()
        assert account.id is not None
        row = AlertDelivery(
            account_id=account.id,
            destination_id=destination.id,
            destination_hint=destination.target_hint,
            rule=rule,
            event=event,
            message_id=message_id,
            title=title[:300],
            payload=payload(
                message_id=message_id,
                event=event,
                account=account,
                rule=rule,
                title=title,
                detail=detail,
                since=since,
                at=now,
            ),
            state=DeliveryState.PENDING,
            created_at=now,
            next_attempt_at=now,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def _apply(
    session: Session, now: datetime, found: dict[tuple[int, AlertRule], Condition]
) -> list[Transition]:
    states = {
        (row.account_id, AlertRule(row.rule)): row
        for row in session.exec(select(AlertState).with_for_update())
        if row.rule in RULE_VALUES
    }
    accounts = {account.id: account for account in session.exec(select(Account))}
    transitions: list[Transition] = []
    for key in sorted(set(found) | {k for k, s in states.items() if s.firing}):
        account_id, rule = key
        account = accounts.get(account_id)
        if account is None:
            continue
        condition = found.get(key)
        state = states.get(key)
        firing_now = condition is not None and condition.firing
        was_firing = state is not None and state.firing
        if firing_now and not was_firing:
            assert condition is not None
            if state is None:
                state = AlertState(account_id=account_id, rule=rule.value)
            state.firing, state.since, state.resolved_at = True, now, None
            state.detail = f"{condition.title}. {condition.detail}"[:500]
            state.evaluated_at = now
            session.add(state)
            queue_messages(
                session, account=account, rule=rule.value, event=AlertEvent.FIRED,
                title=condition.title, detail=condition.detail, since=now, now=now,
            )  # fmt: skip
            transitions.append(Transition(account_id, rule, AlertEvent.FIRED, condition.title))
        elif was_firing and not firing_now:
            assert state is not None
            title = (state.detail or rule.value).split(". ", 1)[0]
            state.firing, state.resolved_at, state.evaluated_at = False, now, now
            session.add(state)
            if condition is not None:  # a rule switched off closes quietly
                queue_messages(
                    session, account=account, rule=rule.value, event=AlertEvent.RESOLVED,
                    title=title, detail="This is no longer the case.", since=state.since, now=now,
                )  # fmt: skip
            transitions.append(Transition(account_id, rule, AlertEvent.RESOLVED, title))
    return transitions


def evaluate(runtime: Runtime) -> list[Transition]:
    """Evaluate every rule of every account once; open and resolve incidents, queue messages."""
    now = runtime.clock()
    with runtime.db.read() as session:
        choices = effective_choices(
            session=session, sync_interval_seconds=runtime.settings.sync_interval_seconds
        )
        found = conditions(session=session, now=now, choices=choices)
    try:
        with runtime.db.write() as session:
            return _apply(session, now, found)
    except IntegrityError:  # another engine opened the same incident first: it told it
        log.info("alert state written by another engine; evaluating again next time")
        return []

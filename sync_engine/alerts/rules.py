"""The alert rules: what each one watches, its default, and its condition read from the store.

Each rule is a :class:`RuleSpec` (name, default threshold, the words staff see) and a condition
computed for every account at once by :func:`conditions` from a few grouped queries: the
connection's state, the last hour's sync attempts, the oldest due work, the scheduler's heartbeat
and the newest verification findings. A condition says whether the rule is true now and, in plain
language, why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from sync_engine.alerts.models import AlertRule, AlertRuleSetting
from sync_engine.engine.outcomes import Outcome
from sync_engine.models import (
    SYNC_PENDING,
    Account,
    ClockworkConnection,
    ConnectionState,
    EngineRun,
    Enrollment,
    SyncAttempt,
)
from sync_engine.verify.models import CheckStatus, ContactCheck

# The trigger of the scheduler's passes: their start times are the engine's heartbeat.
HEARTBEAT_TRIGGER = "scheduler"
# A failure share over fewer attempts than this in the hour is noise, not an incident.
FAILURE_RATE_MIN_ATTEMPTS = 10
FAILURE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class RuleSpec:
    """One rule as staff see it: what it watches and what its threshold means."""

    rule: AlertRule
    label: str
    threshold: float | None
    threshold_label: str | None


RULES: dict[AlertRule, RuleSpec] = {
    spec.rule: spec
    for spec in (
        RuleSpec(AlertRule.CREDENTIALS_REJECTED, "Clockwork rejects the credentials", None, None),
        RuleSpec(
            AlertRule.FAILURE_RATE,
            "Too many syncs fail",
            0.25,
            "share of the last hour's syncs that failed (0 to 1)",
        ),
        RuleSpec(
            AlertRule.QUEUE_STALLED,
            "The queue is not draining",
            900.0,
            "seconds the oldest due contact may wait",
        ),
        RuleSpec(
            AlertRule.HEARTBEAT_STALE,
            "The sync engine stopped running",
            None,  # three sync intervals, at least two minutes: see heartbeat_threshold
            "seconds since the engine's last pass",
        ),
        RuleSpec(
            AlertRule.DRIFT_FOUND,
            "A verification found drift",
            1.0,
            "drifted contacts before it alerts",
        ),
    )
}


def heartbeat_threshold(sync_interval_seconds: float) -> float:
    """The default staleness of the heartbeat: three intervals, and never under two minutes."""
    return max(120.0, 3 * sync_interval_seconds)


@dataclass(frozen=True)
class RuleChoice:
    """An account's effective choice for one rule (its own row, else the default)."""

    enabled: bool
    threshold: float | None


def effective_choices(
    *, session: Session, sync_interval_seconds: float
) -> dict[tuple[int, AlertRule], RuleChoice]:
    """Every account's choice for every rule, defaults filled in."""
    own = {(row.account_id, row.rule): row for row in session.exec(select(AlertRuleSetting))}
    choices: dict[tuple[int, AlertRule], RuleChoice] = {}
    for account_id in session.exec(select(Account.id)):
        assert account_id is not None
        for rule, spec in RULES.items():
            default = (
                heartbeat_threshold(sync_interval_seconds)
                if rule == AlertRule.HEARTBEAT_STALE
                else spec.threshold
            )
            row = own.get((account_id, rule.value))
            if row is None:
                choices[account_id, rule] = RuleChoice(True, default)
            else:
                threshold = row.threshold if row.threshold is not None else default
                choices[account_id, rule] = RuleChoice(row.enabled, threshold)
    return choices


@dataclass(frozen=True)
class Condition:
    """Whether a rule is true for an account now, and why (plain language)."""

    firing: bool
    title: str
    detail: str = ""


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def conditions(
    *,
    session: Session,
    now: datetime,
    choices: dict[tuple[int, AlertRule], RuleChoice],
) -> dict[tuple[int, AlertRule], Condition]:
    """Each enabled rule's condition for each account, from grouped queries over the store."""
    accounts = {a.id: a for a in session.exec(select(Account))}
    connections = {c.account_id: c for c in session.exec(select(ClockworkConnection))}

    attempts: dict[int, dict[str, int]] = {}
    counted = (Outcome.SYNCED, Outcome.DELIVERED, Outcome.RETRYING, Outcome.FAILED)
    watching = {
        a
        for (a, rule), choice in choices.items()
        if rule == AlertRule.FAILURE_RATE and choice.enabled
    }
    for account_id in sorted(watching & set(accounts)):
        # One account at a time: each is a range of ix_sync_attempt_account_outcome, however
        # long the attempts table grows (every interval, so it must stay cheap).
        attempts[account_id] = dict(
            session.exec(
                select(SyncAttempt.outcome, func.count())
                .where(SyncAttempt.account_id == account_id)
                .where(col(SyncAttempt.outcome).in_(counted))
                .where(col(SyncAttempt.finished_at) >= now - FAILURE_WINDOW)
                .group_by(col(SyncAttempt.outcome))
            ).all()
        )

    oldest_due = dict(
        session.exec(
            select(Enrollment.account_id, func.min(Enrollment.next_attempt_at))
            .where(col(Enrollment.status).in_(SYNC_PENDING))
            .where(col(Enrollment.next_attempt_at) <= now)
            .group_by(col(Enrollment.account_id))
        ).all()
    )
    heartbeat = session.exec(
        select(func.max(EngineRun.started_at)).where(EngineRun.trigger == HEARTBEAT_TRIGGER)
    ).one()
    drifted = dict(
        session.exec(
            select(ContactCheck.account_id, func.count())
            .where(ContactCheck.status == CheckStatus.DRIFTED)
            .group_by(col(ContactCheck.account_id))
        ).all()
    )

    found: dict[tuple[int, AlertRule], Condition] = {}
    for (account_id, rule), choice in choices.items():
        account = accounts.get(account_id)
        if account is None or not choice.enabled:
            continue
        name = account.name
        connection = connections.get(account_id)
        connected = connection is not None and connection.state == ConnectionState.CONNECTED
        threshold = choice.threshold
        if rule == AlertRule.CREDENTIALS_REJECTED:
            rejected = (
                connection is not None and connection.state == ConnectionState.NEEDS_ATTENTION
            )
            found[account_id, rule] = Condition(
                rejected,
                f"Clockwork rejected the credentials of {name}",
                (
                    f"{(connection.last_error if connection else None) or 'No reason given'}. "
                    "Syncing for this account is paused and its contacts wait in the queue until "
                    "someone reconnects it on the Integrations page."
                )
                if rejected
                else "",
            )
        elif rule == AlertRule.FAILURE_RATE:
            counts = attempts.get(account_id, {})
            total = sum(counts.values())
            failed = counts.get(Outcome.FAILED, 0) + counts.get(Outcome.RETRYING, 0)
            share = failed / total if total else 0.0
            firing = total >= FAILURE_RATE_MIN_ATTEMPTS and share > (threshold or 0.0)
            found[account_id, rule] = Condition(
                firing,
                f"Many syncs of {name} are failing",
                f"{failed} of {total} sync attempts in the last hour failed ({share:.0%})."
                if firing
                else "",
            )
        elif rule == AlertRule.QUEUE_STALLED:
            due = oldest_due.get(account_id)
            waited = (now - due).total_seconds() if due is not None else 0.0
            # A paused account or one that needs attention waits on purpose (or has its own rule).
            firing = (
                connected and not account.sync_paused and due is not None
                and waited > (threshold or 0.0)
            )  # fmt: skip
            found[account_id, rule] = Condition(
                bool(firing),
                f"The sync queue of {name} is not draining",
                f"The oldest contact due to sync has waited {_minutes(waited)}." if firing else "",
            )
        elif rule == AlertRule.HEARTBEAT_STALE:
            age = (now - heartbeat).total_seconds() if heartbeat is not None else 0.0
            firing = heartbeat is not None and age > (threshold or 0.0)
            found[account_id, rule] = Condition(
                firing,
                "The sync engine has stopped running",
                f"Its last pass started {_minutes(age)} ago; nothing syncs until it runs again."
                if firing
                else "",
            )
        elif rule == AlertRule.DRIFT_FOUND:
            count = drifted.get(account_id, 0)
            firing = count >= max(1.0, threshold or 1.0)
            found[account_id, rule] = Condition(
                firing,
                f"Contacts of {name} no longer match Clockwork",
                f"A verification found {count} contact{'s' if count != 1 else ''} that drifted "
                "(see Contacts, filter Drifted)."
                if firing
                else "",
            )
    return found

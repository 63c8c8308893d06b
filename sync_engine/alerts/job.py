"""The scheduler's alerts job: evaluate every rule, then send the messages that are due.

It runs every sync interval in its own job (never inside a sync pass), so an alert reaches its
destination within one interval of its condition becoming true, and a pass that hangs cannot hold
the alert that the heartbeat is stale.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sync_engine.alerts.delivery import DeliveryCounts, DeliveryPolicy, deliver_due
from sync_engine.alerts.evaluate import Transition, evaluate
from sync_engine.runtime import Runtime

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger(__name__)

ALERTS_JOB = "alerts"


def check_alerts(
    runtime: Runtime, *, policy: DeliveryPolicy | None = None
) -> tuple[list[Transition], DeliveryCounts]:
    """Evaluate the rules once and send whatever is due (new incidents and retries)."""
    transitions = evaluate(runtime)
    for transition in transitions:
        log.info(
            "alert %s for account %s: %s",
            transition.event.value, transition.account_id, transition.rule.value,
        )  # fmt: skip
    return transitions, deliver_due(runtime, policy=policy)


def add_alerts_job(scheduler: BaseScheduler, runtime: Runtime) -> None:
    """Schedule :func:`check_alerts` every sync interval, the first run at once."""
    scheduler.add_job(
        check_alerts,
        "interval",
        seconds=runtime.settings.sync_interval_seconds,
        id=ALERTS_JOB,
        name="Alerts",
        args=(runtime,),
        next_run_time=runtime.clock(),
    )

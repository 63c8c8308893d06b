"""The scheduler's verification job: work the queued verifications a little every interval, and
with ``CWSYNC_VERIFY_EVERY_HOURS`` queue a sample of ``CWSYNC_VERIFY_SAMPLE`` contacts of each
connected account that often (off by default), which keeps the Overview's "last verified" current.

Each run gets most of the interval and takes its requests from the firm's own pacer (the one the
engine's sync uses, through :meth:`~sync_engine.engine.passes.Engine.pacer_for`), at most
``CWSYNC_VERIFY_SHARE`` of the firm's rate, so syncing keeps the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlmodel import col, func, select

from sync_engine.engine.pacing import TokenBucket
from sync_engine.models import ClockworkConnection, ConnectionState
from sync_engine.runtime import Runtime
from sync_engine.verify.models import VerifyRun
from sync_engine.verify.runs import VerifyError, advance, pending_runs, request_verification

if TYPE_CHECKING:  # the scheduler is the dashboard's; nothing here needs apscheduler loaded
    from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger(__name__)

VERIFY_JOB = "verify"


SCHEDULER_ACTOR = "scheduler"


def schedule_samples(runtime: Runtime) -> list[int]:
    """With ``CWSYNC_VERIFY_EVERY_HOURS`` set, queue a sample verification of each connected
    account whose newest verification is older than that (or that has none); the run ids."""
    hours = runtime.settings.verify_every_hours
    if not hours:
        return []
    due_before = runtime.clock() - timedelta(hours=hours)
    with runtime.db.read() as session:
        connected = session.exec(
            select(ClockworkConnection.account_id).where(
                ClockworkConnection.state == ConnectionState.CONNECTED
            )
        ).all()
        newest = dict(
            session.exec(
                select(VerifyRun.account_id, func.max(VerifyRun.requested_at)).group_by(
                    col(VerifyRun.account_id)
                )
            ).all()
        )
    queued = []
    for account_id in connected:
        last = newest.get(account_id)
        if last is not None and last > due_before:
            continue
        try:
            run = request_verification(
                runtime, account_id=account_id, sample=runtime.settings.verify_sample,
                actor=SCHEDULER_ACTOR,
            )  # fmt: skip
        except VerifyError as exc:
            log.info("account %s: no scheduled verification: %s", account_id, exc)
            continue
        if run.id is not None:
            queued.append(run.id)
    return queued


def work_verifications(
    runtime: Runtime,
    pacer_for: Callable[[int], TokenBucket | None],
    *,
    seconds: float,
    share: float | None = None,
) -> None:
    """Queue the scheduled samples that are due, then advance every pending verification for a
    share of ``seconds``."""
    schedule_samples(runtime)
    runs = pending_runs(runtime)
    for run_id in runs:
        with runtime.db.read() as session:
            run = session.get(VerifyRun, run_id)
        if run is None:
            continue
        advance(
            runtime, run_id, seconds=seconds / len(runs),
            share=share or runtime.settings.verify_share,
            firm_pacer=pacer_for(run.account_id),
        )  # fmt: skip


def add_verify_job(
    scheduler: BaseScheduler, runtime: Runtime, pacer_for: Callable[[int], TokenBucket | None]
) -> None:
    """Schedule :func:`work_verifications` every sync interval."""
    interval = runtime.settings.sync_interval_seconds
    scheduler.add_job(
        work_verifications,
        "interval",
        seconds=interval,
        id=VERIFY_JOB,
        name="Verifications",
        args=(runtime, pacer_for),
        kwargs={"seconds": interval * 0.8},
        next_run_time=runtime.clock(),
    )

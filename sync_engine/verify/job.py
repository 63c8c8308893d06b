"""The scheduler's verification job: work the queued verifications a little every interval.

Each run gets most of the interval and takes its requests from the firm's own pacer (the one the
engine's sync uses, through :meth:`~sync_engine.engine.passes.Engine.pacer_for`), at most
``CWSYNC_VERIFY_SHARE`` of the firm's rate, so syncing keeps the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.base import BaseScheduler

from sync_engine.engine.pacing import TokenBucket
from sync_engine.runtime import Runtime
from sync_engine.verify.models import VerifyRun
from sync_engine.verify.runs import advance, pending_runs

log = logging.getLogger(__name__)

VERIFY_JOB = "verify"


def work_verifications(
    runtime: Runtime,
    pacer_for: Callable[[int], TokenBucket | None],
    *,
    seconds: float,
    share: float | None = None,
) -> None:
    """Advance every pending verification for a share of ``seconds``."""
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

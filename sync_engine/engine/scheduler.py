"""APScheduler 3.x wiring: sync passes on an interval, a lease reaper, and job problems recorded.

:func:`build_scheduler` returns a configured, not yet started ``BackgroundScheduler`` with explicit
job defaults (``coalesce``, ``max_instances=1``, a real ``misfire_grace_time``). Job errors and
missed runs are written to the run history so the dashboard shows them. The dashboard keeps the
handle in ``st.cache_resource`` so reruns never start a second scheduler; tests start none unless
they ask for one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from sync_engine.alerts.job import add_alerts_job
from sync_engine.engine.passes import Engine
from sync_engine.models import EngineRun
from sync_engine.runtime import Runtime
from sync_engine.verify.job import add_verify_job

log = logging.getLogger(__name__)

SYNC_JOB = "sync_pass"
REAPER_JOB = "lease_reaper"
REAPER_INTERVAL_SECONDS = 30


@dataclass
class EngineHandle:
    """A running engine: its scheduler and the engine it drives."""

    scheduler: BackgroundScheduler
    engine: Engine

    @property
    def running(self) -> bool:
        """Whether the scheduler is running."""
        return bool(self.scheduler.running)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop scheduling; with ``wait`` the pass in progress and the work in flight finish
        first."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        if wait:
            self.engine.close()


def build_scheduler(runtime: Runtime, engine: Engine | None = None) -> EngineHandle:
    """A configured scheduler (not started) running passes every ``sync_interval_seconds``."""
    engine = engine or Engine(runtime)
    interval = runtime.settings.sync_interval_seconds
    scheduler = BackgroundScheduler(
        timezone="UTC",
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": max(5, int(interval * 2)),
        },
    )
    # A pass ends before the next is due (its unfinished work carries over), so a slow firm never
    # delays the heartbeat or the other firms' next pass.
    scheduler.add_job(
        engine.run_pass,
        "interval",
        seconds=interval,
        id=SYNC_JOB,
        name="Clockwork sync pass",
        kwargs={"trigger": "scheduler", "budget_seconds": interval * 0.8},
        next_run_time=runtime.clock(),
    )
    scheduler.add_job(
        engine.reap_leases,
        "interval",
        seconds=REAPER_INTERVAL_SECONDS,
        id=REAPER_JOB,
        name="Lease reaper",
    )
    # Alerts are evaluated in a job of their own, so a hanging pass cannot hold them.
    add_alerts_job(scheduler, runtime)
    # Verifications share each firm's pacer with its sync, at most a share of it.
    add_verify_job(scheduler, runtime, engine.pacer_for)

    def on_problem(event: JobExecutionEvent) -> None:
        trigger = "job_error" if event.code == EVENT_JOB_ERROR else "job_missed"
        detail = (
            repr(event.exception)
            if event.exception
            else f"missed run at {event.scheduled_run_time}"
        )
        log.warning("scheduler %s for %s: %s", trigger, event.job_id, detail)
        try:
            with runtime.db.write() as session:
                now = runtime.clock()
                session.add(
                    EngineRun(
                        started_at=now,
                        finished_at=now,
                        trigger=trigger,
                        worker=engine.worker,
                        counts={},
                        error=f"{event.job_id}: {detail}"[:1000],
                    )
                )
        except Exception:  # the store itself may be the problem; the log line above remains
            log.exception("could not record a scheduler problem")

    scheduler.add_listener(on_problem, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return EngineHandle(scheduler=scheduler, engine=engine)


def start_engine(runtime: Runtime) -> EngineHandle:
    """Build and start the scheduler; the first pass runs at once."""
    handle = build_scheduler(runtime)
    handle.scheduler.start()
    return handle

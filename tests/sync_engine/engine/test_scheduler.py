"""APScheduler wiring: explicit job defaults, passes recorded as runs, job errors recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlmodel import select

from sync_engine.clockwork.simulator import SimulatorServer, SimulatorState
from sync_engine.engine.passes import Engine
from sync_engine.engine.scheduler import REAPER_JOB, SYNC_JOB, build_scheduler
from sync_engine.models import EngineRun
from sync_engine.runtime import Runtime
from sync_engine.services.enrollments import get_enrollment
from tests.factories import enroll, make_connected_account, make_runtime, make_sequence


@pytest.fixture
def live_rt(sqlite_url: str, sim: SimulatorState) -> Iterator[Runtime]:
    """A runtime on the real clock (the scheduler runs on wall time)."""
    runtime = make_runtime(sqlite_url, sync_interval_seconds=0.2, default_max_rps=500)
    runtime.clock = __import__("sync_engine.models", fromlist=["utcnow"]).utcnow
    yield runtime
    runtime.close()


def _wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_jobs_have_explicit_defaults_and_nothing_starts_on_build(live_rt: Runtime) -> None:
    handle = build_scheduler(live_rt)
    assert not handle.running
    handle.scheduler.start(paused=True)  # jobs get their defaults when the scheduler starts
    try:
        jobs = {job.id: job for job in handle.scheduler.get_jobs()}
    finally:
        handle.shutdown()
    assert set(jobs) == {SYNC_JOB, REAPER_JOB}
    for job in jobs.values():
        assert (job.coalesce, job.max_instances) == (True, 1)
        assert job.misfire_grace_time and job.misfire_grace_time >= 5


def test_scheduler_syncs_new_contacts_and_records_each_pass(
    live_rt: Runtime, sim_server: SimulatorServer
) -> None:
    account_id = make_connected_account(live_rt, base_url=sim_server.base_url)
    enrollment_id = enroll(live_rt, make_sequence(live_rt, account_id), "live@example.com")
    handle = build_scheduler(live_rt)
    handle.scheduler.start()
    try:

        def synced() -> bool:
            with live_rt.db.read() as session:
                return (
                    get_enrollment(session=session, enrollment_id=enrollment_id).status == "synced"
                )

        _wait_for(synced)
    finally:
        handle.shutdown()
    with live_rt.db.read() as session:
        runs = session.exec(select(EngineRun).where(EngineRun.trigger == "scheduler")).all()
    assert any(run.counts.get("synced") == 1 for run in runs)
    assert all(run.finished_at is not None for run in runs)


def test_a_failing_pass_is_recorded_as_a_job_error(live_rt: Runtime) -> None:
    engine = Engine(live_rt)
    failed = threading.Event()

    def broken_pass(*, trigger: str, budget_seconds: float) -> None:
        failed.set()
        raise RuntimeError("store unavailable")

    engine.run_pass = broken_pass  # type: ignore[method-assign]
    handle = build_scheduler(live_rt, engine)
    handle.scheduler.start()
    try:

        def recorded() -> bool:
            with live_rt.db.read() as session:
                return bool(
                    session.exec(select(EngineRun).where(EngineRun.trigger == "job_error")).all()
                )

        _wait_for(recorded)
    finally:
        handle.shutdown()
    with live_rt.db.read() as session:
        run = session.exec(select(EngineRun).where(EngineRun.trigger == "job_error")).first()
    assert run is not None and "store unavailable" in (run.error or "")

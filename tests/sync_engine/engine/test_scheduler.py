"""APScheduler wiring: explicit job defaults, passes recorded as runs, job errors recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlmodel import select

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.alerts.job import ALERTS_JOB
from sync_engine.engine.passes import Engine
from sync_engine.engine.scheduler import REAPER_JOB, SYNC_JOB, build_scheduler
from sync_engine.models import EngineRun
from sync_engine.runtime import Runtime
from sync_engine.services.events import get_enrollment
from sync_engine.verify.job import VERIFY_JOB
from tests.factories import enroll, make_connected_account, make_runtime, make_sequence


@pytest.fixture
def live_rt(sqlite_url: str, sim: SimulatorState) -> Iterator[Runtime]:
    """A runtime on the real clock (the scheduler runs on wall time)."""
    runtime = make_runtime(sqlite_url, sync_interval_seconds=0.2, default_max_rps=500)
    runtime.db.clock = __import__(
        "sync_engine.models", fromlist=["utcnow"]
    ).utcnow  # the store's clock is the runtime's
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
    assert set(jobs) == {SYNC_JOB, REAPER_JOB, ALERTS_JOB, VERIFY_JOB}
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


def test_a_hanging_firm_keeps_neither_the_heartbeat_nor_other_accounts_waiting(
    sqlite_url: str, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    from clockwork_simulator.faults import FaultConfig
    from sync_engine.models import utcnow
    from sync_engine.services import accounts
    from sync_engine.services.queries.overview import engine_health

    rt = make_runtime(
        sqlite_url, sync_interval_seconds=0.5, http_timeout_seconds=3, lease_seconds=12
    )
    rt.db.clock = utcnow
    keys = {"api_key": "hang-key-1", "api_secret": "hang-secret-2", "firm_service_key": "hang-f"}
    sim.add_firm("hanging", **keys)
    with rt.db.write() as session:
        hanging = accounts.create_account(session=session, name="Hanging", actor="t")
    assert hanging.id is not None
    fields = {"firm": "hanging", "base_url": sim_server.base_url, **keys}
    accounts.connect(rt, account_id=hanging.id, fields=fields, actor="t")
    enroll(rt, make_sequence(rt, hanging.id), "stuck@example.com")
    healthy = make_connected_account(rt, "Healthy", base_url=sim_server.base_url)
    healthy_sequence = make_sequence(rt, healthy)
    # Every answer of that firm now drips a byte a second (no read ever times out): it is cut at
    # 3 s, its overall deadline, and no pass waits for it.
    sim_server.set_firm_faults("hanging", FaultConfig(drip_rate=1.0, drip_interval_seconds=1))
    handle = build_scheduler(rt)
    handle.scheduler.start()
    try:
        time.sleep(1.5)  # the hanging firm's first request is in flight by now
        for n in range(3):
            enrollment_id = enroll(rt, healthy_sequence, f"later{n}@example.com")

            def synced(enrollment_id: int = enrollment_id) -> bool:
                with rt.db.read() as session:
                    status = get_enrollment(session=session, enrollment_id=enrollment_id).status
                    return status == "synced"

            _wait_for(synced, timeout=4)
            with rt.db.read() as session:
                heartbeat = engine_health(session=session, now=utcnow()).last_heartbeat_at
            assert heartbeat is not None and (utcnow() - heartbeat).total_seconds() < 2.5
    finally:
        handle.shutdown()  # waits for the hanging firm's request, cut within 3 s
        sim_server.set_faults(None)
        rt.close()

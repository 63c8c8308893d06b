"""SPEC §7 reliability: Clockwork faults lose nothing and duplicate nothing (R6, R7, R8).

Each test builds the mixed workload of :mod:`tests.reliability.workload` against the simulator on
a real loopback socket, turns one kind of fault on, runs the engine until idle on the real clock
(backoff kept short, the client timeout at half a second) and then checks the simulator holds
exactly one person per email, one candidacy per (person, project) and one note per activity.
Each test prints its figures: the calls the engine made by outcome (``-s`` shows them).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlmodel import select

from clockwork_simulator import FaultConfig, SimulatorServer, SimulatorState
from sync_engine.engine.passes import Engine
from sync_engine.engine.pipeline import PipelineConfig
from sync_engine.models import ConnectionState, Enrollment
from sync_engine.runtime import Runtime, build_runtime
from sync_engine.services import accounts
from tests.factories import SIM_FIRM, SIM_KEYS, connection_fields, make_settings
from tests.reliability.workload import (
    Workload,
    build_workload,
    call_outcomes,
    check_exactly_once,
    last_call_id,
)

CLIENT_TIMEOUT = 0.5
RATE, BURST, TOLD = 40.0, 8, 50.0  # the simulator's limit, and the budget the engine is told
STORM_SECONDS = 2.0
IDLE_TIMEOUT = 60.0  # generous: only a failing run waits this long


@pytest.fixture
def rt(sqlite_url: str, sim: SimulatorState) -> Iterator[Runtime]:
    settings = make_settings(
        sqlite_url,
        default_max_rps=100,
        http_timeout_seconds=CLIENT_TIMEOUT,
        api_call_log_retention=100_000,
    )
    runtime = build_runtime(settings)  # the real clock: Retry-After dates are real dates
    yield runtime
    runtime.close()


def _engine(rt: Runtime) -> Engine:
    return Engine(rt, config=PipelineConfig(max_attempts=25, backoff_base=0.1, backoff_cap=0.5))


def _run_with_faults(
    rt: Runtime,
    sim: SimulatorState,
    server: SimulatorServer,
    faults: FaultConfig,
    label: str,
    max_rps: float | None = None,
    then: FaultConfig | None = None,
) -> tuple[Workload, dict[str, object]]:
    """Build the workload, inject ``faults`` (for ``STORM_SECONDS``, then ``then``, if given),
    run until idle, check exactly-once and return the figures."""
    engine = _engine(rt)
    work = build_workload(rt, server, sim, engine, new=12, existing=5, synced_first=3)
    if max_rps is not None:  # the budget the engine is told, above the simulator's real limit
        with rt.db.write() as session:
            accounts.update_settings(
                session=session, account_id=work.account_id, changes={"max_rps": max_rps},
                actor="test",
            )  # fmt: skip
    since, sim_before = last_call_id(rt), sim.request_counts(SIM_FIRM)["total"]
    server.set_faults(faults)
    storm_end = threading.Timer(STORM_SECONDS, server.set_faults, args=(then,))
    if then is not None:
        storm_end.start()
    try:
        counts = engine.run_until_idle(timeout=IDLE_TIMEOUT)
    finally:
        storm_end.cancel()
        server.set_faults(None)
    assert not counts["timed_out"], counts
    figures = check_exactly_once(rt, sim, work)
    calls = call_outcomes(rt, after=since)
    figures["calls"] = dict(calls)
    figures["simulator_requests"] = sim.request_counts(SIM_FIRM)["total"] - sim_before
    # Every request the engine logged reached the simulator, and nothing else did.
    assert figures["simulator_requests"] == calls["total"]
    print(f"\nfaults[{label}] " + json.dumps(figures, sort_keys=True))
    return work, figures


def _storm(retry_after: str) -> dict[str, object]:
    """A 429 storm: a limit far below the told budget for a while, then the normal limit."""
    return {
        "faults": FaultConfig(rate_limit_rps=3, burst=2, retry_after=retry_after),  # type: ignore[arg-type]
        "then": FaultConfig(rate_limit_rps=RATE, burst=BURST, retry_after=retry_after),  # type: ignore[arg-type]
        "max_rps": TOLD,
    }


@pytest.mark.parametrize(
    ("label", "scenario", "expected"),
    [
        ("429-storm-retry-after-seconds", _storm("seconds"), "429"),
        ("429-storm-retry-after-http-date", _storm("http_date"), "429"),
        ("429-storm-no-retry-after", _storm("none"), "429"),
        ("5xx-bursts", {"faults": FaultConfig(error_rate=0.3, seed=7)}, "5xx"),
        ("dropped-connections", {"faults": FaultConfig(drop_rate=0.25, seed=11)}, "dropped"),
        (
            "slower-than-timeout",
            {"faults": FaultConfig(slow_rate=0.15, slow_seconds=CLIENT_TIMEOUT + 0.2, seed=5)},
            "timeout",
        ),
        (
            "everything-at-once",
            {
                "faults": FaultConfig(
                    latency_ms=5,
                    jitter_ms=10,
                    rate_limit_rps=RATE,
                    burst=BURST,
                    error_rate=0.1,
                    drop_rate=0.1,
                    slow_rate=0.05,
                    slow_seconds=CLIENT_TIMEOUT + 0.2,
                    seed=3,
                ),
                "max_rps": TOLD,
            },
            "all",
        ),
    ],
)
def test_faults_lose_nothing_and_duplicate_nothing(
    rt: Runtime,
    sim: SimulatorState,
    sim_server: SimulatorServer,
    label: str,
    scenario: dict[str, object],
    expected: str,
) -> None:
    work, figures = _run_with_faults(rt, sim, sim_server, label=label, **scenario)  # type: ignore[arg-type]
    calls = figures["calls"]
    assert isinstance(calls, dict)
    injected = {
        "429": calls.get("429", 0),
        "5xx": sum(calls.get(s, 0) for s in ("500", "502", "503")),
        "dropped": calls.get("dropped", 0),
        "timeout": calls.get("timeout", 0),
    }
    if expected == "all":  # 429s depend on timing here; the seeded faults always show
        assert all(injected[kind] for kind in ("5xx", "dropped", "timeout")), injected
    else:
        assert injected[expected] > 0, injected  # the fault really happened
    assert figures["enrollments"] == {"synced": len(work.enrollment_ids)}


def _revoke_after(sim: SimulatorState, notes: int) -> None:
    """Revoke the user's API key once Clockwork got ``notes`` more notes: by then enrollments
    are synced (a note is their last step) while others are still on their way."""
    route = "POST /people/{id}/notes"
    start = sim.request_counts(SIM_FIRM)["routes"].get(route, 0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if sim.request_counts(SIM_FIRM)["routes"].get(route, 0) - start >= notes:
            break
        time.sleep(0.002)
    sim.revoke_key(SIM_KEYS["api_key"])


def test_key_revoked_mid_run_pauses_the_account_and_reconnecting_finishes_the_work(
    rt: Runtime, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    engine = _engine(rt)
    work = build_workload(rt, sim_server, sim, engine, new=12, existing=5, synced_first=3)
    since = last_call_id(rt)
    sim_server.set_faults(FaultConfig(latency_ms=20))
    revoker = threading.Thread(target=_revoke_after, args=(sim, 3))
    revoker.start()
    first = engine.run_pass()
    revoker.join()
    paused = first["paused"] + engine.run_pass()["paused"]
    with rt.db.read() as session:
        summary = accounts.connection_summary(session=session, account_id=work.account_id)
        statuses = Counter(session.exec(select(Enrollment.status)).all())
    assert summary is not None and summary.state == ConnectionState.NEEDS_ATTENTION
    # Revoked mid-pass: some of the queued work had synced, the rest was paused by a 401.
    assert paused >= 1 and statuses["synced"] > 3, (first, statuses)
    # R6: the interrupted work waits in the queue; nothing failed, nothing is left "syncing".
    assert statuses["queued"] + statuses["retrying"] >= 1, statuses
    assert set(statuses) <= {"synced", "queued", "retrying"}, statuses
    assert engine.run_until_idle(timeout=2)["claimed"] == 0  # paused: nothing is claimed

    sim.restore_key(SIM_KEYS["api_key"])
    accounts.connect(
        rt, account_id=work.account_id, fields=connection_fields(sim_server.base_url), actor="t"
    )
    counts = engine.run_until_idle(timeout=IDLE_TIMEOUT)
    sim_server.set_faults(None)
    assert not counts["timed_out"], counts
    figures = check_exactly_once(rt, sim, work)
    figures["calls"] = dict(call_outcomes(rt, after=since))
    figures["paused"] = paused
    print("\nfaults[key-revoked-mid-run] " + json.dumps(figures, sort_keys=True))
    assert figures["enrollments"] == {"synced": len(work.enrollment_ids)}
    assert figures["calls"].get("401", 0) >= 1

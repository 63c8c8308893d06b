"""The demo's seeded drift, end to end on the demo simulator's socket: a verification of Acme
Talent finds the three changed contacts, the repair is previewed and applied through the engine,
and a second verification finds nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync_engine.demo import DemoSimulator, seed_demo
from sync_engine.engine.passes import Engine
from sync_engine.runtime import Runtime
from sync_engine.verify.repair import apply_repair, preview_repair
from sync_engine.verify.runs import advance, request_verification
from sync_engine.verify.views import count_drifted
from tests.factories import make_runtime


@pytest.fixture
def rt(sqlite_url: str) -> Iterator[Runtime]:
    runtime = make_runtime(sqlite_url, default_max_rps=500)
    yield runtime
    runtime.close()


def _verify(rt: Runtime, account_id: int) -> int:
    run = request_verification(rt, account_id=account_id, actor="demo")
    run = advance(rt, run.id or 0)
    return run.drifted


def test_the_demo_seeds_drift_that_verify_finds_and_repair_fixes(
    rt: Runtime, demo_simulator: DemoSimulator
) -> None:
    report = seed_demo(rt, demo_simulator.base_url)
    acme = report.accounts["Acme Talent"]
    assert _verify(rt, acme) == 3  # only the contacts synced earlier are checked: the drifted
    with rt.db.read() as session:
        steps = {step.email: step for step in preview_repair(session=session, account_id=acme)}
    assert steps["wendy.shaw@fabrikam.example"].reason.startswith(
        "The person is no longer in Clockwork"
    )
    assert steps["victor.lane@proseware.example"].actions == ["Add the person to the project again"]
    assert steps["uma.patel@lucerne.example"].actions == [
        "Link the contact to the person it was merged into",
        "Add the person to the project again",
    ]
    with rt.db.write() as session:
        assert apply_repair(session=session, account_id=acme, actor="demo") == 3
    engine = Engine(rt)
    try:
        engine.run_until_idle(timeout=60)
    finally:
        engine.close()
    assert _verify(rt, acme) == 0
    with rt.db.read() as session:
        assert count_drifted(session=session, account_id=acme) == 0

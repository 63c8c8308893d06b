"""A scheduled sample verification (off by default) keeps each account's "last verified" current."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.runtime import Runtime
from sync_engine.verify.job import schedule_samples, work_verifications
from sync_engine.verify.views import last_verified_at, latest_run
from tests.factories import FakeClock, make_runtime
from tests.verify.test_verify import _synced_account


@pytest.fixture
def rt(sqlite_url: str, sim: SimulatorState, clock: FakeClock) -> Iterator[Runtime]:
    runtime = make_runtime(sqlite_url, clock=clock, default_max_rps=500)
    yield runtime
    runtime.close()


def test_no_scheduled_verification_by_default(rt: Runtime, sim_server: SimulatorServer) -> None:
    _synced_account(rt, sim_server, count=2)
    assert schedule_samples(rt) == []


def test_a_sample_is_verified_every_period_and_the_overview_figure_moves(
    rt: Runtime, sim_server: SimulatorServer, clock: FakeClock
) -> None:
    rt.settings = rt.settings.model_copy(update={"verify_every_hours": 6, "verify_sample": 2})
    account_id = _synced_account(rt, sim_server, count=4)
    work_verifications(rt, lambda account_id: None, seconds=30)
    with rt.db.read() as session:
        first = latest_run(session=session, account_id=account_id)
        verified = last_verified_at(session=session, account_id=account_id)
    assert first is not None and (first.requested_by, first.sample, first.checked) == (
        "scheduler", 2, 2,
    )  # fmt: skip
    assert verified == clock()
    clock.advance(3600)
    assert schedule_samples(rt) == [], "not again within the period"
    clock.advance(5 * 3600 + 1)
    assert len(schedule_samples(rt)) == 1

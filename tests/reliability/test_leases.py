"""A worker that outlives its lease never writes to Clockwork on work another worker took over.

A lease can expire while its worker still runs (a stall, a slow Clockwork, a long queue inside
the worker pool); another engine then claims the enrollment and syncs it. Before creating a
person (a write Clockwork does not deduplicate) the first worker must find the lease still its
own, and extend it, or stop: its search result is stale by then.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sync_engine.clockwork.simulator import SimulatorServer, SimulatorState
from sync_engine.engine.passes import Engine
from sync_engine.engine.pipeline import Outcome, PipelineConfig, process
from sync_engine.engine.queue import Claim, claim_due
from sync_engine.models import Enrollment
from sync_engine.runtime import Runtime
from sync_engine.services.accounts import connection_credentials
from tests.factories import (
    SIM_FIRM,
    FakeClock,
    enroll,
    make_connected_account,
    make_runtime,
    make_sequence,
)

LEASE = 30.0
CONFIG = PipelineConfig(max_attempts=3, backoff_base=1, backoff_cap=10)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rt(database_url: str, clock: FakeClock, sim: SimulatorState) -> Iterator[Runtime]:
    runtime = make_runtime(database_url, clock=clock, default_max_rps=500, lease_seconds=LEASE)
    yield runtime
    runtime.close()


def _claim(rt: Runtime, token: str) -> Claim:
    with rt.db.write() as session:
        (claim,) = claim_due(
            session=session, token=token, now=rt.clock(), lease_seconds=LEASE, limit=10
        )
    return claim


def _stalling_client(rt: Runtime, account_id: int, method: str, during_stall: Any) -> Any:
    """A client whose ``method`` does its request, then stalls past the lease (``during_stall``
    runs meanwhile: another engine takes the work over)."""
    with rt.db.read() as session:
        credentials = connection_credentials(session=session, box=rt.box, account_id=account_id)
    assert credentials is not None
    client = rt.client(credentials)
    real = getattr(client, method)

    def stall(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        rt.clock.advance(LEASE + 1)  # type: ignore[attr-defined]
        during_stall()
        return result

    setattr(client, method, stall)
    return client


def test_worker_past_its_lease_does_not_create_a_second_person(
    rt: Runtime, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    account_id = make_connected_account(rt, base_url=sim_server.base_url)
    enroll(rt, make_sequence(rt, account_id), "stall@example.com", first_name="Stall")
    late = _claim(rt, "worker-a")

    def other_engine_takes_over() -> None:
        assert Engine(rt, config=CONFIG).run_pass()["synced"] == 1

    client = _stalling_client(rt, account_id, "find_people_by_email", other_engine_takes_over)
    with client:
        outcome = process(late, db=rt.db, client=client, clock=rt.clock, config=CONFIG)
    assert outcome == Outcome.LOST_LEASE
    assert len(sim.snapshot(SIM_FIRM)["people"]) == 1
    with rt.db.read() as session:
        (row,) = session.exec(Enrollment.__table__.select()).all()  # type: ignore[attr-defined]
    assert (row.status, row.link, row.lease_owner) == ("synced", "created", None)

"""A worker that outlives its lease never writes to Clockwork on work another worker took over.

A lease can expire while its worker still runs (a stall, a slow Clockwork, a long queue inside
the worker pool, a long run of notes); another engine then claims the enrollment. Before each
write Clockwork does not deduplicate (creating a person, writing a note) the worker must find
the lease still its own and extend it, or stop: what it read before may be stale by then.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.connections import connection_credentials
from sync_engine.engine.passes import Engine
from sync_engine.engine.pipeline import Outcome, PipelineConfig, process
from sync_engine.engine.queue import Claim, claim_due
from sync_engine.models import ActivityKind, Enrollment
from sync_engine.runtime import Runtime
from tests.factories import (
    SIM_FIRM,
    FakeClock,
    enroll,
    make_connected_account,
    make_runtime,
    make_sequence,
)
from tests.reliability.workload import record

LEASE = 30.0
CONFIG = PipelineConfig(max_attempts=3, backoff_base=1, backoff_cap=10)


@pytest.fixture
def rt(database_url: str, clock: FakeClock, sim: SimulatorState) -> Iterator[Runtime]:
    runtime = make_runtime(
        database_url, clock=clock, default_max_rps=500, lease_seconds=LEASE,
        http_timeout_seconds=LEASE / 4,
    )  # fmt: skip
    yield runtime
    runtime.close()


def _claim(rt: Runtime, token: str) -> Claim:
    with rt.db.write() as session:
        (claim,) = claim_due(
            session=session, token=token, now=rt.clock(), lease_seconds=LEASE, limit=10
        )
    return claim


def _stalling_client(
    rt: Runtime, account_id: int, method: str, during_stall: Any, *, stall: float = LEASE + 1
) -> Any:
    """A client whose ``method`` does its request, then takes ``stall`` seconds more (past the
    lease by default) while ``during_stall`` runs: another engine looks for work meanwhile."""
    with rt.db.read() as session:
        credentials = connection_credentials(session=session, box=rt.box, account_id=account_id)
    assert credentials is not None
    client = rt.client(credentials)
    real = getattr(client, method)

    def stalled(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        rt.clock.advance(stall)  # type: ignore[attr-defined]
        during_stall()
        return result

    setattr(client, method, stalled)
    return client


def _taken_over_while_stalled(rt: Runtime, account_id: int, method: str) -> Outcome:
    """Worker A claims the one enrollment and stalls past its lease right after ``method``'s
    request while another engine syncs the enrollment; worker A's outcome."""
    late = _claim(rt, "worker-a")

    def other_engine_takes_over() -> None:
        assert Engine(rt, config=CONFIG).run_pass()["synced"] == 1

    with _stalling_client(rt, account_id, method, other_engine_takes_over) as client:
        return process(late, db=rt.db, client=client, clock=rt.clock, config=CONFIG)


def _synced_by_the_other_engine(rt: Runtime) -> None:
    """The store's one enrollment is synced, by a person created once, and no longer leased."""
    with rt.db.read() as session:
        (row,) = session.exec(Enrollment.__table__.select()).all()  # type: ignore[attr-defined]
    assert (row.status, row.link, row.lease_owner) == ("synced", "created", None)


def test_worker_past_its_lease_does_not_create_a_second_person(
    rt: Runtime, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    account_id = make_connected_account(rt, base_url=sim_server.base_url)
    enroll(rt, make_sequence(rt, account_id), "stall@example.com", first_name="Stall")
    assert _taken_over_while_stalled(rt, account_id, "find_people_by_email") == Outcome.LOST_LEASE
    assert len(sim.snapshot(SIM_FIRM)["people"]) == 1
    _synced_by_the_other_engine(rt)


def test_a_worker_writing_a_long_run_of_notes_keeps_its_lease(
    rt: Runtime, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    account_id = make_connected_account(rt, base_url=sim_server.base_url)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "many-notes@example.com")
    assert Engine(rt, config=CONFIG).run_pass()["synced"] == 1
    for n in range(5):
        record(rt, enrollment_id, ActivityKind.OPENED, f"Follow-up {n}")
    working = _claim(rt, "worker-a")
    taken_over: list[int] = []

    def slow_note_then_another_engine_looks() -> None:
        # Each note takes 0.6 lease: without renewing, the lease runs out by the second note.
        with rt.db.write() as session:
            taken_over.append(
                len(claim_due(session=session, token="worker-b", now=rt.clock(),
                              lease_seconds=LEASE, limit=10))
            )  # fmt: skip

    client = _stalling_client(
        rt, account_id, "create_note", slow_note_then_another_engine_looks, stall=0.6 * LEASE
    )
    with client:
        outcome = process(working, db=rt.db, client=client, clock=rt.clock, config=CONFIG)
    assert (outcome, taken_over) == (Outcome.DELIVERED, [0] * 5)
    assert len(sim.snapshot(SIM_FIRM)["notes"]) == 5


def test_a_create_answered_past_the_lease_writes_nothing_more_after_a_takeover(
    rt: Runtime, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    # The create's answer arrives after the lease ran out; meanwhile another engine found the
    # new person (by name: it has no email yet), adopted it and completed it.
    account_id = make_connected_account(rt, base_url=sim_server.base_url)
    enroll(
        rt, make_sequence(rt, account_id), "late@example.com", first_name="Late",
        last_name="Answer", title="CTO", company="Initech",
        linkedin_url="https://www.linkedin.com/in/late-answer",
    )  # fmt: skip
    assert _taken_over_while_stalled(rt, account_id, "create_person") == Outcome.LOST_LEASE
    (person,) = sim.snapshot(SIM_FIRM)["people"]
    assert [len(person[key] or []) for key in ("emails", "positions", "linkedinUrls")] == [1, 1, 1]
    _synced_by_the_other_engine(rt)

"""Work claimed ahead for a firm waits in its lane: one claim feeds several enrollments, a firm
never has more in flight than its share of workers, and what still waits when the pass ends goes
back to the queue (issue 11: engine CPU per request)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from clockwork_simulator import SimulatorState
from clockwork_simulator.mock import mock_transport
from sync_engine.engine import passes
from sync_engine.engine.lanes import Lane
from sync_engine.engine.passes import Engine
from sync_engine.models import Enrollment, EnrollmentStatus
from sync_engine.runtime import Runtime
from tests.factories import enroll, make_connected_account, make_runtime, make_sequence


@pytest.fixture
def rt(sqlite_url: str, sim: SimulatorState, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setattr(Lane, "capacity", lambda self, ceiling: 1)
    runtime = make_runtime(sqlite_url, transport=mock_transport(sim), workers=4)
    yield runtime
    runtime.close()


def _enroll(rt: Runtime, count: int) -> int:
    account_id = make_connected_account(rt, "Acme", max_rps=500)
    sequence_id = make_sequence(rt, account_id)
    for n in range(count):
        enroll(rt, sequence_id, f"person{n}@example.com", first_name="P", last_name=str(n))
    return account_id


def _statuses(rt: Runtime) -> dict[str, int]:
    with rt.db.read() as session:
        rows = session.execute(
            sa.select(Enrollment.status, sa.func.count()).group_by(Enrollment.status)  # type: ignore[call-overload]
        ).all()
    return dict(rows)


def test_one_claim_feeds_several_enrollments_one_at_a_time(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _enroll(rt, 10)
    claims: list[int] = []
    claim_due = passes.claim_due

    def counted(**kwargs: Any) -> Any:
        claimed = claim_due(**kwargs)
        claims.append(len(claimed))
        return claimed

    monkeypatch.setattr(passes, "claim_due", counted)
    running, most = 0, 0
    lock = threading.Lock()
    process_one = Engine._process_one

    def watched(self: Engine, *args: Any) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            return process_one(self, *args)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(Engine, "_process_one", watched)

    Engine(rt).run_until_idle(timeout=30)

    assert _statuses(rt) == {EnrollmentStatus.SYNCED: 10}
    assert most == 1  # the firm's share of workers, whatever its lane holds
    assert sum(claims) == 10 and len(claims) <= 6, claims  # one per enrollment before


def test_claims_still_waiting_in_a_lane_go_back_to_the_queue_when_the_pass_ends(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _enroll(rt, 5)
    release = threading.Event()
    process_one = Engine._process_one

    def slow(self: Engine, *args: Any) -> str:
        release.wait(10)
        return process_one(self, *args)

    monkeypatch.setattr(Engine, "_process_one", slow)
    engine = Engine(rt)
    engine.run_pass(budget_seconds=0.3)  # one enrollment in flight, one waiting in the lane

    statuses = _statuses(rt)
    assert statuses == {EnrollmentStatus.SYNCING: 1, EnrollmentStatus.QUEUED: 4}, statuses
    with rt.db.read() as session:
        leased = session.execute(
            sa.select(sa.func.count()).where(Enrollment.lease_owner.is_not(None))  # type: ignore[union-attr]
        ).scalar_one()
    assert leased == 1
    release.set()
    engine.run_until_idle(timeout=30)
    engine.close()
    assert _statuses(rt) == {EnrollmentStatus.SYNCED: 5}

"""Work claimed ahead for a firm waits in its lane: one claim feeds several enrollments, a firm
never has more in flight than its share of workers, and what still waits when the pass ends goes
back to the queue (issue 11: engine CPU per request)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from clockwork_simulator import SimulatorState
from clockwork_simulator.mock import mock_transport
from sync_engine.engine import passes, pipeline
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


def _leased(rt: Runtime) -> int:
    with rt.db.read() as session:
        return session.execute(
            sa.select(sa.func.count()).where(Enrollment.lease_owner.is_not(None))  # type: ignore[union-attr]
        ).scalar_one()


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
    assert statuses == {EnrollmentStatus.QUEUED: 5}, statuses  # no attempt has started yet
    assert _leased(rt) == 1
    release.set()
    engine.run_until_idle(timeout=30)
    engine.close()
    assert _statuses(rt) == {EnrollmentStatus.SYNCED: 5}


def test_work_claimed_ahead_shows_as_queued_until_its_attempt_starts(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _enroll(rt, 4)
    with rt.db.write() as session:  # the second in line waits for a retry, and shows it
        second = session.exec(select(Enrollment).order_by(col(Enrollment.id))).all()[1]
        second.status, second.attempts = EnrollmentStatus.RETRYING, 1
        session.add(second)
    started, release = threading.Event(), threading.Event()
    sync = pipeline._sync

    def held(*args: Any, **kwargs: Any) -> Any:
        started.set()  # the attempt has started: the enrollment is being synced
        release.wait(10)
        return sync(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_sync", held)
    engine = Engine(rt)
    running = threading.Thread(target=engine.run_pass, kwargs={"budget_seconds": 10})
    running.start()
    assert started.wait(10)
    statuses, leased = _statuses(rt), _leased(rt)
    release.set()
    running.join(10)
    engine.run_until_idle(timeout=30)
    engine.close()

    # The firm's share is one worker and it claims twice that: one started, one waiting.
    assert leased == 2
    expected = {
        EnrollmentStatus.SYNCING: 1,
        EnrollmentStatus.RETRYING: 1,
        EnrollmentStatus.QUEUED: 2,
    }
    assert statuses == expected, statuses
    assert _statuses(rt) == {EnrollmentStatus.SYNCED: 4}

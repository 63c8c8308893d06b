"""Claims waiting in a firm's lane go back to the queue from inside the pass loop: all of them
when a pass ends, and only those of the firms another engine now owns when the members change
(``Engine._give_back_waiting`` at its two call sites), on both storage backends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import col, select

from clockwork_simulator import SimulatorState
from clockwork_simulator.mock import mock_transport
from sync_engine.engine import passes
from sync_engine.engine.lanes import Lane
from sync_engine.engine.members import Membership, split, time_to_live
from sync_engine.engine.passes import Engine
from sync_engine.engine.queue import Claim, due_by_account
from sync_engine.models import Enrollment, EnrollmentStatus, SyncAttempt
from sync_engine.runtime import Runtime
from tests.factories import FakeClock, enroll, make_connected_account, make_runtime, make_sequence

WAIT_SECONDS = 10.0  # far under the passes' budgets, so a pass never ends while a test waits


@pytest.fixture
def rt(
    database_url: str, clock: FakeClock, sim_state: SimulatorState, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    # One worker per firm, claiming one ahead: each firm has one claim in flight, one waiting.
    monkeypatch.setattr(Lane, "capacity", lambda self, ceiling: 1)
    runtime = make_runtime(
        database_url, clock=clock, transport=mock_transport(sim_state), workers=8
    )
    yield runtime
    runtime.close()


class Held:
    """Holds every attempt before it starts, recording what was claimed and what started."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = threading.Event()
        self.claimed: list[Claim] = []
        self.started: list[int] = []
        self._lock = threading.Lock()
        claim_due, process_one = passes.claim_due, Engine._process_one

        def recorded(**kwargs: Any) -> list[Claim]:
            claims = claim_due(**kwargs)
            self.claimed.extend(claims)
            return claims

        def held(engine: Engine, claim: Claim, *args: Any) -> str:
            with self._lock:
                self.started.append(claim.enrollment_id)
            self.release.wait(WAIT_SECONDS * 3)
            return process_one(engine, claim, *args)

        monkeypatch.setattr(passes, "claim_due", recorded)
        monkeypatch.setattr(Engine, "_process_one", held)

    def waiting(self) -> set[int]:
        """Claimed, not started: what waits in the lanes."""
        with self._lock:
            return {c.enrollment_id for c in self.claimed} - set(self.started)

    def wait_started(self, count: int) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while len(self.started) < count:
            assert time.monotonic() < deadline, f"{len(self.started)} of {count} started"
            time.sleep(0.02)


def _firms(rt: Runtime, firms: int, people: int) -> list[int]:
    accounts = []
    for n in range(firms):
        account_id = make_connected_account(rt, f"Firm {n}", max_rps=500)
        sequence_id = make_sequence(rt, account_id)
        for i in range(people):
            enroll(rt, sequence_id, f"p{n}-{i}@example.com", first_name="P", last_name=str(i))
        accounts.append(account_id)
    return accounts


def _enrollments(rt: Runtime) -> dict[int, Enrollment]:
    with rt.db.read() as session:
        return {e.id: e for e in session.exec(select(Enrollment)).all() if e.id is not None}


def _leased(rt: Runtime) -> set[int]:
    return {i for i, e in _enrollments(rt).items() if e.lease_owner is not None}


def _attempted(rt: Runtime) -> set[int]:
    with rt.db.read() as session:
        return set(session.exec(select(col(SyncAttempt.enrollment_id))).all())


def _all_synced_once(rt: Runtime) -> None:
    found = {i: (e.status, e.attempts) for i, e in _enrollments(rt).items()}
    assert set(found.values()) == {(EnrollmentStatus.SYNCED, 1)}, found


def test_claims_waiting_in_a_lane_at_the_stop_time_are_given_back_without_an_attempt(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    (account_id,) = _firms(rt, 1, 5)
    held = Held(monkeypatch)
    engine = Engine(rt)
    engine.stop_at = time.monotonic() + 1.0
    began = time.monotonic()
    engine.run_pass(budget_seconds=WAIT_SECONDS * 3)
    assert time.monotonic() - began < WAIT_SECONDS  # the stop time ended it, not the budget

    waiting = held.waiting()
    assert len(held.started) == 1 and len(waiting) == 1, (held.started, waiting)
    enrollments = _enrollments(rt)
    for enrollment_id in waiting:
        enrollment = enrollments[enrollment_id]
        assert enrollment.lease_owner is None and enrollment.lease_expires_at is None
        assert (enrollment.status, enrollment.attempts) == (EnrollmentStatus.QUEUED, 0)
        assert enrollment.next_attempt_at is not None and enrollment.next_attempt_at <= rt.clock()
    assert _leased(rt) == set(held.started)  # only the attempt in flight keeps its lease
    assert not _attempted(rt) & waiting
    with rt.db.read() as session:  # claimable again: all but the one in flight
        assert due_by_account(session=session, now=rt.clock()) == {account_id: 4}

    engine.stop_at = None
    held.release.set()
    engine.run_until_idle(timeout=30)
    engine.close()
    _all_synced_once(rt)


def test_when_a_member_joins_mid_pass_only_its_firms_waiting_claims_are_given_back(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = _firms(rt, 4, 4)
    held = Held(monkeypatch)
    engine = Engine(rt, member="a")
    running = threading.Thread(target=engine.run_pass, kwargs={"budget_seconds": WAIT_SECONDS * 3})
    running.start()
    try:
        held.wait_started(len(accounts))  # alone: one in flight and one waiting for every firm
        assert len(held.waiting()) == len(accounts)
        other = Membership(rt.db, rt.clock, member="b", ttl_seconds=time_to_live(5))
        other.beat()
        owners = split(("a", "b"), accounts)
        theirs = {a for a in accounts if owners[a] == "b"}
        assert 0 < len(theirs) < len(accounts)
        account_of = {e_id: e.account_id for e_id, e in _enrollments(rt).items()}
        theirs_waiting = {i for i in held.waiting() if account_of[i] in theirs}
        ours_waiting = held.waiting() - theirs_waiting

        deadline = time.monotonic() + WAIT_SECONDS  # the pass sees b at its next look for work
        while _leased(rt) & theirs_waiting:
            assert time.monotonic() < deadline, "the other engine's firms' claims were kept"
            time.sleep(0.05)
        leased = _leased(rt)
        assert leased == set(held.started) | ours_waiting  # this engine's own still wait, leased
        lanes = engine._lanes
        assert {a for a in accounts if lanes[a].backlog} == set(accounts) - theirs
        enrollments = _enrollments(rt)
        assert {(enrollments[i].status, enrollments[i].attempts) for i in theirs_waiting} == {
            (EnrollmentStatus.QUEUED, 0)
        }
        with rt.db.read() as session:  # b can claim them now
            due = due_by_account(session=session, now=rt.clock())
        assert {a: due[a] for a in theirs} == dict.fromkeys(theirs, 3)
        other.leave()
    finally:
        held.release.set()
        running.join(WAIT_SECONDS * 3)
    engine.run_until_idle(timeout=30)
    engine.close()
    _all_synced_once(rt)

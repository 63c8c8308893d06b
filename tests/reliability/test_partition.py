"""Engines sharing a PostgreSQL store split the firms: each account is worked by one engine.

Two engines (own runtimes, as two processes) run passes at the same time over six accounts:
each takes only the accounts rendezvous hashing gives it, so a firm is paced by one engine.
An engine that stops cleanly leaves at once and the other takes its accounts in its next pass;
one that dies keeps its accounts until its heartbeat is older than the time to live, then the
other takes them. Nothing is processed twice.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlmodel import col, func, select

from clockwork_simulator import FaultConfig, SimulatorServer, SimulatorState
from sync_engine.engine.members import split, time_to_live
from sync_engine.engine.passes import Engine
from sync_engine.engine.pipeline import PipelineConfig
from sync_engine.engine.queue import claim_due
from sync_engine.models import Enrollment, SyncAttempt
from sync_engine.runtime import Runtime
from tests.factories import FakeClock, enroll, make_connected_account, make_runtime, make_sequence

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

ACCOUNTS, CONTACTS = 6, 3
CONFIG = PipelineConfig(max_attempts=3, backoff_base=0.1, backoff_cap=0.5)


@pytest.fixture
def runtimes(database_url: str, clock: FakeClock) -> Iterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one store (as two processes would be): own pools, one key, one clock."""
    key = Fernet.generate_key().decode()
    options: dict[str, Any] = {"clock": clock, "encryption_key": key, "default_max_rps": 200}
    first, second = make_runtime(database_url, **options), make_runtime(database_url, **options)
    yield first, second
    first.close()
    second.close()


def _engine(rt: Runtime, member: str, seen: dict[str, set[int]]) -> Engine:
    """An engine that notes the account of every enrollment it processes."""
    engine = Engine(rt, config=CONFIG, member=member)
    seen[member] = set()
    original = engine._process_one

    def noting(claim: Any, client: Any) -> str:
        seen[member].add(claim.account_id)
        return original(claim, client)

    engine._process_one = noting  # type: ignore[method-assign]
    return engine


def _enroll_wave(rt: Runtime, sequences: dict[int, int], wave: int) -> None:
    for account_id, sequence_id in sequences.items():
        for i in range(CONTACTS):
            enroll(rt, sequence_id, f"w{wave}-a{account_id}-{i}@example.com", first_name="W")


def _attempts(rt: Runtime) -> Counter[int]:
    with rt.db.read() as session:
        rows = session.exec(
            select(SyncAttempt.enrollment_id, func.count()).group_by(SyncAttempt.enrollment_id)  # type: ignore[arg-type]
        ).all()
        statuses = Counter(session.exec(select(Enrollment.status)).all())
    assert set(statuses) == {"synced"}, statuses
    return Counter(dict(rows))


def test_two_engines_split_the_firms_and_take_over_a_stopped_or_dead_ones_accounts(
    runtimes: tuple[Runtime, Runtime],
    clock: FakeClock,
    sim: SimulatorState,
    sim_server: SimulatorServer,
) -> None:
    one, two = runtimes
    sequences = {}
    for n in range(ACCOUNTS):
        account_id = make_connected_account(one, f"Firm {n}", base_url=sim_server.base_url)
        sequences[account_id] = make_sequence(one, account_id)
    _enroll_wave(one, sequences, 0)
    seen: dict[str, set[int]] = {}
    a, b = _engine(one, "engine-a", seen), _engine(two, "engine-b", seen)
    for engine in (a, b, a):  # each has beaten and seen the other
        engine.membership.beat()
    owners = split(("engine-a", "engine-b"), sequences)
    shares = {m: {i for i in sequences if owners[i] == m} for m in seen}
    assert shares["engine-a"] and shares["engine-b"]  # both really take part

    threads = [threading.Thread(target=engine.run_pass) for engine in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert seen == shares  # disjoint: each firm worked by one engine

    # A clean stop: the other engine takes every account in its next pass.
    b.close()
    _enroll_wave(one, sequences, 1)
    seen["engine-a"].clear()
    a.membership.beat()
    a.run_pass()
    assert seen["engine-a"] == set(sequences)

    # A death: its accounts wait until its heartbeat is older than the time to live.
    c = _engine(two, "engine-c", seen)
    c.membership.beat()
    a.membership.beat()
    _enroll_wave(one, sequences, 2)
    seen["engine-a"].clear()
    a.run_pass()
    owners = split(("engine-a", "engine-c"), sequences)
    mine = {i for i in sequences if owners[i] == "engine-a"}
    assert seen["engine-a"] == mine != set(sequences)
    clock.advance(time_to_live(one.settings.sync_interval_seconds) + 1)
    a.membership.beat()
    a.run_pass()
    assert seen["engine-a"] == set(sequences)

    attempts = _attempts(one)
    assert len(attempts) == 3 * ACCOUNTS * CONTACTS
    assert set(attempts.values()) == {1}  # nothing processed twice
    a.close()


def test_the_engine_that_takes_a_throttled_firm_over_starts_at_the_pace_learned_for_it(
    runtimes: tuple[Runtime, Runtime], sim_server: SimulatorServer, sim: SimulatorState
) -> None:
    one, two = runtimes
    account_id = make_connected_account(one, "Throttled", base_url=sim_server.base_url)
    sequence_id = make_sequence(one, account_id)
    for i in range(6):
        enroll(one, sequence_id, f"t{i}@example.com", first_name="T")
    # Its limit is not told: the engine starts at default_max_rps (200) and learns from 429s.
    sim_server.set_faults(FaultConfig(rate_limit_rps=2, burst=2, retry_after="seconds"))
    first = Engine(one, config=CONFIG, member="engine-a")
    first.run_pass()  # everything ends in back-off after the 429s; the pace is learned
    learned = first.pacer_for(account_id)
    assert learned is not None and learned.learned() is not None
    rate, ceiling = learned.learned() or (0.0, 0.0)
    assert rate < 200
    first.close()  # a clean stop: the firm goes to the other engine

    second = Engine(two, config=CONFIG, member="engine-b")
    second.membership.beat()
    lane = second._lane_for(account_id, Counter())  # the lane its next pass sends through
    assert lane is not None
    assert lane.pacer.learned() == pytest.approx((rate, ceiling), rel=0.05)  # written now and then
    assert lane.pacer.rate < two.settings.default_max_rps
    second.close()


def test_an_engine_gives_back_the_waiting_work_of_the_firms_a_new_member_takes(
    runtimes: tuple[Runtime, Runtime], sim_server: SimulatorServer, sim: SimulatorState
) -> None:
    one, two = runtimes
    accounts = [make_connected_account(one, f"Firm {n}", base_url=sim_server.base_url)
                for n in range(4)]  # fmt: skip
    for account_id in accounts:
        sequence_id = make_sequence(one, account_id)
        for i in range(3):
            enroll(one, sequence_id, f"a{account_id}-{i}@example.com", first_name="W")
    first = Engine(one, config=CONFIG, member="engine-a")
    first.membership.settle()  # alone: every firm is its own, and it claims work for each
    with one.db.write() as session:
        for account_id in accounts:
            lane = first._lane_for(account_id, Counter())
            assert lane is not None
            lane.backlog.extend(claim_due(session=session, token="engine-a:t", now=one.clock(),
                                          lease_seconds=60, limit=3, account_id=account_id))  # fmt: skip
    second = Engine(two, config=CONFIG, member="engine-b")
    second.membership.settle()
    first.membership.beat()  # it sees the new member: some of its firms are the other's now
    theirs = {a for a in accounts if not first.membership.owns(a)}
    assert theirs and theirs == {a for a in accounts if second.membership.owns(a)}

    first._give_back_waiting(others_only=True)
    assert {a for a, lane in first._lanes.items() if lane.backlog} == set(accounts) - theirs
    with one.db.read() as session:
        leased = session.exec(select(Enrollment.account_id).where(
            col(Enrollment.lease_owner).is_not(None))).all()  # fmt: skip
    assert set(leased) == set(accounts) - theirs  # the new member can claim its firms' work now
    first.membership.leave()
    second.membership.leave()

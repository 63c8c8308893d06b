"""The work queue on both backends: leases, expiry, one contact in flight, concurrent claimers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from sync_engine import connections
from sync_engine.engine.queue import Claim, claim_due, reap_expired_leases
from sync_engine.engine.work import LeaseLost, leased, open_work
from sync_engine.models import Enrollment, EnrollmentStatus, SyncAttempt
from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from tests.factories import (
    FakeClock,
    enroll,
    make_connected_account,
    make_sequence,
)

LEASE = 60.0


def _claim(rt: Runtime, token: str, limit: int = 100) -> list[Claim]:
    with rt.db.write() as session:
        return claim_due(
            session=session, token=token, now=rt.clock(), lease_seconds=LEASE, limit=limit
        )


def _queue(rt: Runtime, count: int, *, account: str = "Acme") -> list[int]:
    account_id = make_connected_account(rt, account)
    sequence_id = make_sequence(rt, account_id)
    return [enroll(rt, sequence_id, f"p{i}-{account}@example.com".lower()) for i in range(count)]


def test_claimed_work_is_not_claimed_again_until_the_lease_expires(
    runtime: Runtime, clock: FakeClock
) -> None:
    ids = _queue(runtime, 3)
    first = _claim(runtime, "worker-a")
    assert sorted(c.enrollment_id for c in first) == ids
    assert _claim(runtime, "worker-b") == []
    clock.advance(LEASE + 1)
    second = _claim(runtime, "worker-b")
    assert sorted(c.enrollment_id for c in second) == ids
    with pytest.raises(LeaseLost), leased(runtime.db, first[0]):  # no longer honoured
        pass


def test_reaper_returns_expired_work_to_the_queue(runtime: Runtime, clock: FakeClock) -> None:
    (enrollment_id,) = _queue(runtime, 1)
    _claim(runtime, "dead-worker")
    clock.advance(LEASE + 1)
    with runtime.db.write() as session:
        assert reap_expired_leases(session=session, now=clock()) == 1
    from sync_engine.services.events import get_enrollment

    with runtime.db.read() as session:
        row = get_enrollment(session=session, enrollment_id=enrollment_id)
    assert (row.status, row.lease_owner) == ("queued", None)


def test_two_enrollments_of_one_contact_are_never_in_flight_together(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime)
    enroll(runtime, make_sequence(runtime, account_id, "A"), "same@example.com")
    enroll(runtime, make_sequence(runtime, account_id, "B"), "same@example.com")
    assert len(_claim(runtime, "w1")) == 1
    assert _claim(runtime, "w2") == []


def test_paused_and_rejected_accounts_keep_their_work_queued(
    runtime: Runtime, clock: FakeClock
) -> None:
    _queue(runtime, 2, account="Paused")
    rejected = _queue(runtime, 2, account="Rejected")
    live = _queue(runtime, 2, account="Live")
    with runtime.db.write() as session:
        paused_id = accounts.get_account(session=session, ref="Paused").id
        rejected_id = accounts.get_account(session=session, ref="Rejected").id
        assert paused_id and rejected_id
        accounts.set_sync_paused(session=session, account_id=paused_id, paused=True, actor="t")
        connections.mark_needs_attention(session=session, account_id=rejected_id, error="401")
    claimed = sorted(c.enrollment_id for c in _claim(runtime, "w"))
    assert claimed == live
    assert not set(claimed) & set(rejected)


def test_concurrent_claimers_never_share_an_enrollment(runtime: Runtime) -> None:
    """Four workers claim at once (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: BEGIN IMMEDIATE)."""
    ids = _queue(runtime, 60)
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        barrier.wait(5)
        mine: list[int] = []
        for _ in range(10):
            mine += [c.enrollment_id for c in _claim(runtime, name, limit=4)]
        results[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    claimed = [i for mine in results.values() for i in mine]
    assert len(claimed) == len(set(claimed)), "an enrollment was claimed twice"
    assert sorted(claimed) == ids
    assert sum(1 for mine in results.values() if mine) >= 2  # the work really was shared


def test_lease_length_is_respected_to_the_second(runtime: Runtime, clock: FakeClock) -> None:
    _queue(runtime, 1)
    (claim,) = _claim(runtime, "w")
    with runtime.db.read() as session:
        row = session.get(Enrollment, claim.enrollment_id)
    assert row is not None and row.lease_owner == claim.token
    assert row.lease_expires_at == clock() + timedelta(seconds=LEASE)


def test_next_due_counts_leased_work_from_its_lease_expiry(
    runtime: Runtime, clock: FakeClock
) -> None:
    from sync_engine.engine.queue import next_due_at

    _queue(runtime, 2)
    with runtime.db.read() as session:
        assert next_due_at(session=session) == clock()
    _claim(runtime, "w")
    with runtime.db.read() as session:
        assert next_due_at(session=session) == clock() + timedelta(seconds=LEASE)


def test_a_dead_engines_claimed_ahead_work_returns_as_it_was_and_started_work_as_retrying(
    runtime: Runtime, clock: FakeClock
) -> None:
    waiting, started, retrying = _queue(runtime, 3)
    with runtime.db.write() as session:
        row = session.get(Enrollment, retrying)
        assert row is not None
        row.status, row.attempts = EnrollmentStatus.RETRYING, 2
        session.add(row)
    claims = {c.enrollment_id: c for c in _claim(runtime, "dead-worker")}
    assert open_work(claims[started], db=runtime.db, clock=clock) is not None
    assert _statuses(runtime, [waiting, started, retrying]) == ["queued", "syncing", "retrying"]
    clock.advance(LEASE + 1)
    with runtime.db.write() as session:
        assert reap_expired_leases(session=session, now=clock()) == 3
    assert _statuses(runtime, [waiting, started, retrying]) == ["queued", "retrying", "retrying"]
    with runtime.db.read() as session:
        (attempt,) = session.exec(select(SyncAttempt)).all()
    assert (attempt.enrollment_id, attempt.outcome) == (started, "abandoned")


def _statuses(rt: Runtime, ids: list[int]) -> list[str]:
    with rt.db.read() as session:
        rows = {e.id: e for e in session.exec(select(Enrollment)).all()}
    return [rows[i].status for i in ids]

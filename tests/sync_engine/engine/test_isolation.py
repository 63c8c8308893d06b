"""One firm's trouble stays inside that firm (SPEC R9, issue 11).

Each test sets up a troubled account next to a healthy one and checks that the healthy one's work
goes on in the same run, while the troubled one ends with a readable reason: throttled, dripping,
hostile answers, undecryptable credentials, a bug in the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import col

from clockwork_simulator import SimulatorServer, SimulatorState
from clockwork_simulator.faults import FaultConfig
from clockwork_simulator.mock import mock_transport
from sync_engine.engine import lane_rows, pipeline
from sync_engine.engine.passes import Engine
from sync_engine.engine.pipeline import PipelineConfig
from sync_engine.engine.work import Work
from sync_engine.models import (
    ClockworkConnection,
    ConnectionState,
    Enrollment,
    EnrollmentStatus,
    SyncAttempt,
)
from sync_engine.runtime import Runtime
from tests.factories import (
    SIM_FIRM,
    FakeClock,
    enroll,
    make_connected_account,
    make_runtime,
    make_sequence,
)

FAST_RETRIES = PipelineConfig(max_attempts=2, backoff_base=0.01, backoff_cap=0.02)


def _statuses(rt: Runtime, account_id: int) -> dict[str, int]:
    with rt.db.read() as session:
        rows = session.execute(
            sa.select(Enrollment.status, sa.func.count())  # type: ignore[call-overload]
            .where(Enrollment.account_id == account_id)
            .group_by(Enrollment.status)
        ).all()
    return dict(rows)


def _open_attempts(rt: Runtime) -> int:
    with rt.db.read() as session:
        return session.execute(
            sa.select(sa.func.count()).where(SyncAttempt.finished_at.is_(None))  # type: ignore[union-attr]
        ).scalar_one()


def _enroll_many(rt: Runtime, account_id: int, prefix: str, count: int) -> None:
    sequence_id = make_sequence(rt, account_id, name=f"{prefix} sequence")
    for n in range(count):
        enroll(rt, sequence_id, f"{prefix}{n}@example.com", first_name=prefix, last_name=str(n))


# --- fair scheduling --------------------------------------------------------------------------


@pytest.fixture
def mock_rt(sqlite_url: str, sim: SimulatorState) -> Iterator[Runtime]:
    runtime = make_runtime(sqlite_url, transport=mock_transport(sim), workers=4)
    yield runtime
    runtime.close()


def test_a_throttled_firm_does_not_hold_the_workers_of_a_healthy_one(mock_rt: Runtime) -> None:
    # The throttled account's work is older, so a queue served in order would give it every
    # worker; each would then sleep in its pacer while the healthy firm waits.
    throttled = make_connected_account(mock_rt, "Throttled", max_rps=1)
    _enroll_many(mock_rt, throttled, "slow", 40)
    healthy = make_connected_account(mock_rt, "Healthy", max_rps=200)
    _enroll_many(mock_rt, healthy, "fast", 10)

    engine = Engine(mock_rt)
    started = time.monotonic()
    counts = engine.run_until_idle(timeout=4)
    elapsed = time.monotonic() - started

    assert _statuses(mock_rt, healthy) == {EnrollmentStatus.SYNCED: 10}
    assert counts["timed_out"] == 1 and counts["remaining"] > 0  # the throttled firm is still going
    assert elapsed < 4 + 5
    assert EnrollmentStatus.SYNCING not in _statuses(mock_rt, throttled)
    assert _open_attempts(mock_rt) == 0


# --- deadlines --------------------------------------------------------------------------------


@pytest.fixture
def socket_rt(
    sqlite_url: str, sim: SimulatorState, sim_server: SimulatorServer
) -> Iterator[Runtime]:
    runtime = make_runtime(sqlite_url, http_timeout_seconds=2.0, lease_seconds=60)
    yield runtime
    runtime.close()


def test_until_idle_returns_by_its_timeout_while_a_firm_drips(
    socket_rt: Runtime, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    keys = {"api_key": "drip-key-1", "api_secret": "drip-secret-2", "firm_service_key": "drip-fsk"}
    sim.add_firm("dripping", **keys)
    healthy = make_connected_account(socket_rt, "Healthy", base_url=sim_server.base_url)
    _enroll_many(socket_rt, healthy, "fine", 5)
    dripping = _connect_other_firm(socket_rt, sim_server, "dripping", keys)
    _enroll_many(socket_rt, dripping, "drip", 5)
    # From now on every answer of that firm comes one byte every half second.
    sim_server._simulator.faults.configure_firm(
        "dripping", FaultConfig(drip_rate=1.0, drip_interval_seconds=0.5)
    )

    started = time.monotonic()
    counts = Engine(socket_rt).run_until_idle(timeout=3)
    elapsed = time.monotonic() - started

    assert elapsed < 3 + 5, elapsed
    assert counts["timed_out"] == 1
    assert _statuses(socket_rt, healthy) == {EnrollmentStatus.SYNCED: 5}
    assert EnrollmentStatus.SYNCING not in _statuses(socket_rt, dripping)
    assert _open_attempts(socket_rt) == 0


def _connect_other_firm(
    rt: Runtime, server: SimulatorServer, firm: str, keys: dict[str, str]
) -> int:
    from sync_engine.services import accounts

    with rt.db.write() as session:
        account = accounts.create_account(session=session, name=firm, actor="t")
    assert account.id is not None
    fields = {"firm": firm, "base_url": server.base_url, **keys}
    accounts.connect(rt, account_id=account.id, fields=fields, actor="t")
    return account.id


# --- faults that are not Clockwork's --------------------------------------------------------------


def test_undecryptable_credentials_pause_that_account_alone(mock_rt: Runtime) -> None:
    broken = make_connected_account(mock_rt, "Broken")
    _enroll_many(mock_rt, broken, "broken", 3)
    healthy = make_connected_account(mock_rt, "Healthy")
    _enroll_many(mock_rt, healthy, "fine", 3)
    other_key = Fernet(Fernet.generate_key())
    with mock_rt.db.write() as session:
        session.execute(
            sa.update(ClockworkConnection)
            .where(ClockworkConnection.account_id == broken)  # type: ignore[arg-type]
            .values(api_key_token=other_key.encrypt(b"someone-else").decode())
        )

    counts = Engine(mock_rt).run_pass()

    assert counts["credentials_unreadable"] == 1
    assert _statuses(mock_rt, healthy) == {EnrollmentStatus.SYNCED: 3}
    assert _statuses(mock_rt, broken) == {EnrollmentStatus.QUEUED: 3}
    with mock_rt.db.read() as session:
        connection = session.get(ClockworkConnection, broken)
    assert connection is not None
    assert connection.state == ConnectionState.NEEDS_ATTENTION
    assert "re-enter the credentials" in (connection.last_error or "")


@pytest.fixture
def two_worker_rt(database_url: str, sim: SimulatorState) -> Iterator[Runtime]:
    runtime = make_runtime(database_url, transport=mock_transport(sim), workers=2)
    yield runtime
    runtime.close()


def _firms(rt: Runtime, count: int, contacts: int) -> list[int]:
    firms = [make_connected_account(rt, f"Firm {n}") for n in range(count)]
    for n, account_id in enumerate(firms):
        _enroll_many(rt, account_id, f"firm{n}-", contacts)
    return firms


def _needing_attention(rt: Runtime) -> set[int]:
    with rt.db.read() as session:
        rows = session.execute(
            sa.select(col(ClockworkConnection.account_id)).where(
                col(ClockworkConnection.state) == ConnectionState.NEEDS_ATTENTION
            )
        )
        return set(rows.scalars())


def test_a_pass_reads_its_firms_credentials_in_one_read_with_fewer_workers_than_firms(
    two_worker_rt: Runtime,
) -> None:
    firms = _firms(two_worker_rt, 6, 2)
    broken = firms[4]
    with two_worker_rt.db.write() as session:
        session.execute(
            sa.update(ClockworkConnection)
            .where(ClockworkConnection.account_id == broken)  # type: ignore[arg-type]
            .values(api_key_token=Fernet(Fernet.generate_key()).encrypt(b"other").decode())
        )
    reads: list[str] = []

    @sa.event.listens_for(two_worker_rt.db.engine, "before_cursor_execute")
    def _count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "api_key_token" in statement and " IN (" in statement:  # the engine's read of rows
            reads.append(statement)

    counts = Engine(two_worker_rt).run_pass()

    assert len(reads) == 1  # six firms' rows in one read, not one read per firm
    assert counts["credentials_unreadable"] == 1  # marked once, however many turns it missed
    assert _needing_attention(two_worker_rt) == {broken}
    assert all(
        _statuses(two_worker_rt, a) == {EnrollmentStatus.SYNCED: 2} for a in firms if a != broken
    )


def test_a_store_that_fails_the_read_of_the_firms_marks_none_of_them(
    two_worker_rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A dropped connection or a restarting store is the store's trouble: before, every firm
    # read then was marked needs attention and paused until staff reconnected it.
    firms = _firms(two_worker_rt, 3, 1)
    real, store = lane_rows.recall_many, {"down": True, "refused": 0}

    def store_down(session: object, account_ids: list[int]) -> object:
        if store["down"]:
            store["refused"] += 1
            raise sa.exc.OperationalError("SELECT …", {}, Exception("server closed the connection"))
        return real(session, account_ids)  # type: ignore[arg-type]

    monkeypatch.setattr(lane_rows, "recall_many", store_down)
    engine = Engine(two_worker_rt)
    counts = engine.run_pass()  # every read of the firms' rows fails in this pass

    assert store["refused"] >= 1
    assert counts["credentials_unreadable"] == 0
    assert _needing_attention(two_worker_rt) == set()
    store["down"] = False
    engine.run_pass()  # the next look reads them
    assert all(_statuses(two_worker_rt, a) == {EnrollmentStatus.SYNCED: 1} for a in firms)


def test_a_row_that_fails_to_load_stays_that_firms_and_the_others_sync(
    two_worker_rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    firms = _firms(two_worker_rt, 4, 1)
    bad = firms[2]
    real, failed = lane_rows.recall_many, []

    def bad_row(session: object, account_ids: list[int]) -> object:
        if bad in account_ids:  # whoever reads the bad firm's row fails
            failed.append(len(account_ids))
            raise ValueError("a stored value this version does not accept")
        return real(session, account_ids)  # type: ignore[arg-type]

    monkeypatch.setattr(lane_rows, "recall_many", bad_row)
    counts = Engine(two_worker_rt).run_pass()

    assert failed[0] > 1 and 1 in failed  # the read of several failed, then the firm's own
    assert counts["credentials_unreadable"] == 1
    assert _needing_attention(two_worker_rt) == {bad}
    assert all(
        _statuses(two_worker_rt, a) == {EnrollmentStatus.SYNCED: 1} for a in firms if a != bad
    )


def _hostile(
    sim: SimulatorState, answer: Callable[[httpx.Request], httpx.Response | None]
) -> httpx.MockTransport:
    """The simulator, except where ``answer`` gives a response of its own."""
    inner = mock_transport(sim)

    def handle(request: httpx.Request) -> httpx.Response:
        return answer(request) or inner.handle_request(request)

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    "answer",
    [{"person": {"id": "../../_admin/reset"}}, {"person": {"id": None}}, {"person": {"id": "a b"}}],
)
def test_a_hostile_create_answer_fails_the_enrollment_at_the_attempt_cap(
    sqlite_url: str, sim: SimulatorState, answer: dict[str, object]
) -> None:
    def rewrite(request: httpx.Request) -> httpx.Response | None:
        hostile = request.method == "POST" and request.url.path.endswith(f"/{SIM_FIRM}/people")
        return httpx.Response(201, json=answer) if hostile else None

    clock = FakeClock()
    rt = make_runtime(sqlite_url, clock=clock, transport=_hostile(sim, rewrite))
    account_id = make_connected_account(rt, "Hostile")
    _enroll_many(rt, account_id, "h", 1)
    engine = Engine(rt, config=FAST_RETRIES)
    engine.run_pass()
    clock.advance(60)
    engine.run_pass()
    with rt.db.read() as session:
        (enrollment,) = session.exec(sa.select(Enrollment)).scalars()  # type: ignore[call-overload]
    assert (enrollment.status, enrollment.reason, enrollment.attempts) == (
        EnrollmentStatus.FAILED,
        "unexpected_answer",
        2,
    )
    assert "no valid id" in enrollment.last_error
    assert _open_attempts(rt) == 0
    rt.close()


def test_a_search_claiming_a_billion_results_ends_in_one_request(
    sqlite_url: str, sim: SimulatorState
) -> None:
    searches: list[httpx.Request] = []

    def rewrite(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/people_search"):
            searches.append(request)
            return httpx.Response(200, json={"peopleSearch": [], "meta": {"total": 10**9}})
        return None

    rt = make_runtime(sqlite_url, transport=_hostile(sim, rewrite))
    account_id = make_connected_account(rt, "Endless")
    _enroll_many(rt, account_id, "e", 1)
    Engine(rt, config=FAST_RETRIES).run_pass()
    assert len(searches) == 1
    assert _statuses(rt, account_id) == {EnrollmentStatus.RETRYING: 1}
    rt.close()


def test_an_unexpected_exception_counts_as_an_attempt_and_fails_at_the_cap(
    sqlite_url: str, sim: SimulatorState, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    rt = make_runtime(sqlite_url, clock=clock, transport=mock_transport(sim))
    broken = make_connected_account(rt, "Broken")
    _enroll_many(rt, broken, "bug", 1)
    healthy = make_connected_account(rt, "Healthy")
    _enroll_many(rt, healthy, "fine", 1)
    real_names = pipeline._person_names

    def buggy(work: Work) -> tuple[str, str]:
        if work.email.startswith("bug"):
            raise OverflowError("a bug for this contact only")
        return real_names(work)

    monkeypatch.setattr(pipeline, "_person_names", buggy)
    engine = Engine(rt, config=FAST_RETRIES)
    engine.run_pass()
    assert _statuses(rt, healthy) == {EnrollmentStatus.SYNCED: 1}
    assert _statuses(rt, broken) == {EnrollmentStatus.RETRYING: 1}
    clock.advance(60)
    engine.run_pass()
    with rt.db.read() as session:
        enrollment = session.execute(
            sa.select(Enrollment).where(Enrollment.account_id == broken)  # type: ignore[arg-type]
        ).scalar_one()
    assert (enrollment.status, enrollment.reason, enrollment.attempts) == (
        EnrollmentStatus.FAILED,
        "unexpected_error",
        2,
    )
    assert "OverflowError" in enrollment.last_error
    assert _open_attempts(rt) == 0
    rt.close()


def test_an_enrollment_whose_attempts_never_closed_fails_instead_of_looping(
    sqlite_url: str, sim: SimulatorState
) -> None:
    rt = make_runtime(sqlite_url, transport=mock_transport(sim))
    account_id = make_connected_account(rt, "Crashy")
    _enroll_many(rt, account_id, "c", 1)
    with rt.db.write() as session:  # as if two workers died mid-attempt
        session.execute(sa.update(Enrollment).values(attempts=FAST_RETRIES.max_attempts))
    Engine(rt, config=FAST_RETRIES).run_pass()
    assert _statuses(rt, account_id) == {EnrollmentStatus.FAILED: 1}
    assert _open_attempts(rt) == 0
    rt.close()

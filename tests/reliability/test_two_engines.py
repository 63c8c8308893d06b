"""Two engines share one PostgreSQL queue: no enrollment is processed twice, none is lost.

Two :class:`Engine` instances, each with its own runtime (own connection pool, own pacer), run
passes in their own threads at the same time against a latency-bound simulator. The claim uses
``FOR UPDATE SKIP LOCKED`` and locks contacts, so each enrollment has exactly one sync attempt
and Clockwork sees exactly the minimal requests: one search per contact, one create per new
person, one candidacy per enrollment with a project, one note per activity.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from sqlmodel import func, select

from clockwork_simulator import FaultConfig, SimulatorServer, SimulatorState
from sync_engine.engine.passes import Engine
from sync_engine.engine.pipeline import PipelineConfig
from sync_engine.models import ActivityKind, Enrollment, SyncAttempt
from sync_engine.runtime import Runtime, build_runtime
from tests.factories import SIM_FIRM, enroll, make_connected_account, make_sequence, make_settings
from tests.reliability.workload import Workload, check_exactly_once, record

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

NEW, EXISTING = 40, 10


def _runtime(url: str, key: str, **overrides: object) -> Runtime:
    # Both engines take the one account's work (by default each firm has one engine): the queue
    # alone must keep them apart.
    settings = make_settings(
        url, encryption_key=key, default_max_rps=200, workers=4, partition_firms=False, **overrides
    )
    return build_runtime(settings)


@pytest.fixture
def runtimes(database_url: str) -> Iterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one store (as two processes would be): own pools, one encryption key."""
    key = Fernet.generate_key().decode()
    first, second = _runtime(database_url, key), _runtime(database_url, key)
    yield first, second
    first.close()
    second.close()


def _workload(rt: Runtime, sim: SimulatorState, server: SimulatorServer) -> Workload:
    projects = [p["id"] for p in sim.snapshot(SIM_FIRM)["projects"]]
    account_id = make_connected_account(rt, base_url=server.base_url)
    work = Workload(account_id=account_id)
    first = make_sequence(rt, account_id, "First", project_id=projects[0])
    second = make_sequence(rt, account_id, "Second", project_id=projects[1])
    for i in range(EXISTING):
        email = f"known{i}@example.com"
        work.existing[email] = sim.seed_person(
            SIM_FIRM, first_name="Known", last_name=str(i), emails=[email]
        )["id"]
        work.enrollment_ids.append(enroll(rt, first, email))
    for i in range(NEW):
        email = f"new{i}@example.com"
        work.new_emails.add(email)
        details = {"title": "CTO", "company": "Initech"} if i % 2 else {}
        work.enrollment_ids.append(
            enroll(
                rt, first if i % 2 else second, email, first_name="New", last_name=str(i), **details
            )
        )
    for i in range(0, NEW, 5):  # some contacts in both sequences: one person, two candidacies
        work.enrollment_ids.append(
            enroll(rt, first if i % 2 == 0 else second, f"new{i}@example.com")
        )
    for enrollment_id in work.enrollment_ids:
        record(rt, enrollment_id, ActivityKind.SENT)
    return work


def _drain(engine: Engine, counts: Counter[str], errors: list[BaseException]) -> None:
    try:
        counts.update(engine.run_until_idle(timeout=30))
    except BaseException as exc:  # surfaced by the test thread
        errors.append(exc)


def _run_two(engines: tuple[Engine, Engine]) -> tuple[Counter[str], Counter[str]]:
    counts: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_drain, args=(engine, c, errors))
        for engine, c in zip(engines, counts, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return counts


def test_two_engines_share_the_queue_without_processing_anything_twice(
    runtimes: tuple[Runtime, Runtime], sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    one, two = runtimes
    work = _workload(one, sim, sim_server)
    before = Counter(sim.request_counts(SIM_FIRM)["routes"])
    sim_server.set_faults(FaultConfig(latency_ms=30, jitter_ms=20))
    config = PipelineConfig(max_attempts=3, backoff_base=0.1, backoff_cap=0.5)
    counts = _run_two((Engine(one, config=config), Engine(two, config=config)))
    requests = Counter(sim.request_counts(SIM_FIRM)["routes"]) - before

    with one.db.read() as session:
        attempts = dict(
            session.exec(
                select(SyncAttempt.enrollment_id, func.count()).group_by(SyncAttempt.enrollment_id)  # type: ignore[arg-type]
            ).all()
        )
        outcomes = Counter(session.exec(select(SyncAttempt.outcome)).all())
        enrolled = len(session.exec(select(Enrollment.id)).all())
    figures = check_exactly_once(one, sim, work)
    figures["engines"] = [dict(c) for c in counts]
    figures["requests"] = dict(requests)
    print("\ntwo-engines " + json.dumps(figures, sort_keys=True))
    assert all(c["synced"] for c in counts), counts  # both engines really took part
    assert attempts == {enrollment_id: 1 for enrollment_id in work.enrollment_ids}
    assert outcomes == {"synced": enrolled}
    contacts = EXISTING + NEW
    assert requests == {
        "GET /people_search": contacts,
        "POST /people": NEW,
        "POST /people/{id}/email_addresses": NEW,
        "POST /people/{id}/positions": NEW // 2,
        "POST /projects/{id}/candidacies": len(work.enrollment_ids),
        "POST /people/{id}/notes": len(work.enrollment_ids),
    }


def test_two_engines_with_leases_shorter_than_a_pass_still_write_everything_once(
    database_url: str, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    """Leases of 1 s, passes of ~3 s, runs of 12 notes of ~150 ms for one person: a worker keeps
    its lease by renewing it before each write Clockwork does not deduplicate (a person, a note),
    or stops if another engine took the work over. Without the renewal before each note, the
    other engine claims mid-run and notes are written twice."""
    key = Fernet.generate_key().decode()
    one = _runtime(database_url, key, lease_seconds=1.0, http_timeout_seconds=0.25)
    two = _runtime(database_url, key, lease_seconds=1.0, http_timeout_seconds=0.25)
    try:
        work = _workload(one, sim, sim_server)
        for enrollment_id in work.enrollment_ids[:: len(work.enrollment_ids) // 6]:
            for n in range(12):  # a long run of notes for one person: longer than the lease
                record(one, enrollment_id, ActivityKind.OPENED, f"Follow-up {n}")
        sim_server.set_faults(FaultConfig(latency_ms=100, jitter_ms=50))
        config = PipelineConfig(max_attempts=3, backoff_base=0.1, backoff_cap=0.5)
        counts = _run_two((Engine(one, config=config), Engine(two, config=config)))
        figures = check_exactly_once(one, sim, work)
    finally:
        one.close()
        two.close()
    figures["engines"] = [dict(c) for c in counts]
    print("\ntwo-engines-short-lease " + json.dumps(figures, sort_keys=True))
    assert figures["enrollments"] == {"synced": len(work.enrollment_ids)}

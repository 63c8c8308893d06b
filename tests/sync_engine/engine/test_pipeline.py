"""SPEC R1-R8 end to end: the engine against the simulator on a real socket, one rule per test."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from clockwork_simulator import FaultConfig, SimulatorServer, SimulatorState
from sync_engine.clockwork.client import ClockworkClient
from sync_engine.engine import pipeline
from sync_engine.engine.passes import Engine
from sync_engine.engine.pipeline import PipelineConfig
from sync_engine.models import (
    Activity,
    ActivityKind,
    ConnectionState,
    Contact,
    Enrollment,
    EnrollmentStatus,
    SyncAttempt,
)
from sync_engine.runtime import Runtime
from sync_engine.services import accounts, actions, events
from tests.factories import (
    SIM_FIRM,
    SIM_KEYS,
    FakeClock,
    connection_fields,
    enroll,
    make_connected_account,
    make_sequence,
    set_settings,
)


def _account(rt: Runtime, server: SimulatorServer, **settings: object) -> int:
    return make_connected_account(rt, base_url=server.base_url, **settings)


def _projects(sim: SimulatorState) -> list[str]:
    return [p["id"] for p in sim.snapshot(SIM_FIRM)["projects"]]


def _people(sim: SimulatorState) -> list[dict[str, Any]]:
    return list(sim.snapshot(SIM_FIRM)["people"])


def _row(rt: Runtime, enrollment_id: int) -> Enrollment:
    with rt.db.read() as session:
        return events.get_enrollment(session=session, enrollment_id=enrollment_id)


def _calls(sim: SimulatorState) -> dict[str, int]:
    return dict(sim.request_counts(SIM_FIRM)["routes"])


def _event(rt: Runtime, enrollment_id: int, kind: ActivityKind, **kw: Any) -> int:
    with rt.db.write() as session:
        activity = events.record_event(
            session=session, enrollment_id=enrollment_id, kind=kind, at=kw.get("at"),
            subject=kw.get("subject", "Intro"),
        )  # fmt: skip
    assert activity.id is not None
    return activity.id


def _settle(engine: Engine, clock: FakeClock, *, passes: int = 10, step: float = 120) -> None:
    """Run passes, moving the fake clock past each backoff, until nothing is claimed."""
    for _ in range(passes):
        if not engine.run_pass()["claimed"]:
            clock.advance(step)
            if not engine.run_pass()["claimed"]:
                return


# --- R3 matching and the minimal calls -----------------------------------------------------------


def test_new_person_is_created_with_email_position_linkedin_and_candidacy_in_6_calls(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    project = _projects(sim)[0]
    account_id = _account(rt, sim_server)
    sequence_id = make_sequence(rt, account_id, project_id=project)
    before = sum(_calls(sim).values())
    enrollment_id = enroll(
        rt, sequence_id, "  Ada.Lovelace@Example.COM ", first_name="Ada", last_name="Lovelace",
        title="CTO", company="Analytical Engines", linkedin_url="https://linkedin.com/in/ada",
    )  # fmt: skip
    assert engine.run_pass()["synced"] == 1
    row = _row(rt, enrollment_id)
    (person,) = _people(sim)
    assert (row.status, row.link, row.exists_in_clockwork) == ("synced", "created", False)
    assert row.clockwork_person_id == person["id"]
    assert person["preferredEmailAddress"] == "ada.lovelace@example.com"
    assert person["positions"][0]["companyName"] == "Analytical Engines"
    assert person["preferredLinkedinUrl"] == "https://linkedin.com/in/ada"
    assert [c["personId"] for c in sim.snapshot(SIM_FIRM)["candidacies"]] == [person["id"]]
    assert sum(_calls(sim).values()) - before == 6


def test_existing_person_is_linked_and_flagged_in_2_calls(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    existing = sim.seed_person(
        SIM_FIRM, first_name="Grace", last_name="Hopper", emails=["grace@navy.mil"]
    )
    account_id = _account(rt, sim_server)
    sequence_id = make_sequence(rt, account_id, project_id=_projects(sim)[0])
    before = sum(_calls(sim).values())
    enrollment_id = enroll(rt, sequence_id, "GRACE@navy.mil")
    engine.run_pass()
    row = _row(rt, enrollment_id)
    assert (row.status, row.link, row.exists_in_clockwork) == ("synced", "linked", True)
    assert row.clockwork_person_id == existing["id"] and len(_people(sim)) == 1
    assert sum(_calls(sim).values()) - before == 2


def test_an_email_known_only_as_a_second_address_still_links(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    existing = sim.seed_person(
        SIM_FIRM,
        first_name="Kat",
        last_name="Johnson",
        emails=["kj@old.example", "kat@new.example"],
    )
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "kat@new.example")
    engine.run_pass()
    row = _row(rt, enrollment_id)
    assert (row.link, row.clockwork_person_id, row.exists_in_clockwork) == (
        "linked",
        existing["id"],
        True,
    )


def test_oldest_of_several_matching_people_is_linked(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    first = sim.seed_person(SIM_FIRM, first_name="A", last_name="One", emails=["dup@example.com"])
    sim.seed_person(SIM_FIRM, first_name="A", last_name="Two", emails=["dup@example.com"])
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "dup@example.com")
    engine.run_pass()
    assert _row(rt, enrollment_id).clockwork_person_id == first["id"]


def test_two_enrollments_of_one_contact_share_one_person_in_two_projects(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    p1, p2 = _projects(sim)[:2]
    account_id = _account(rt, sim_server)
    first = enroll(rt, make_sequence(rt, account_id, "A", project_id=p1), "shared@example.com")
    second = enroll(rt, make_sequence(rt, account_id, "B", project_id=p2), "shared@example.com")
    _settle(engine, rt.clock)  # type: ignore[arg-type]
    a, b = _row(rt, first), _row(rt, second)
    assert len(_people(sim)) == 1
    assert a.clockwork_person_id == b.clockwork_person_id
    assert {(a.link, a.exists_in_clockwork), (b.link, b.exists_in_clockwork)} == {
        ("created", False), ("linked", False),
    }  # fmt: skip
    candidacies = sim.snapshot(SIM_FIRM)["candidacies"]
    assert sorted(c["projectId"] for c in candidacies) == sorted([p1, p2])


def test_already_a_candidate_counts_as_success(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    project = _projects(sim)[0]
    person = sim.seed_person(SIM_FIRM, first_name="In", last_name="Project", emails=["in@p.com"])
    from sync_engine.clockwork.client import ClockworkClient, Credentials

    creds = Credentials(firm=SIM_FIRM, base_url=sim_server.base_url, **SIM_KEYS)
    with ClockworkClient(creds) as client:
        client.add_candidacy(project, person["id"])
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(rt, make_sequence(rt, account_id, project_id=project), "in@p.com")
    engine.run_pass()
    assert _row(rt, enrollment_id).status == "synced"
    assert len(sim.snapshot(SIM_FIRM)["candidacies"]) == 1


def test_deduplication_off_links_without_flagging(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    sim.seed_person(SIM_FIRM, first_name="No", last_name="Flag", emails=["noflag@example.com"])
    account_id = _account(rt, sim_server, deduplication=False)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "noflag@example.com")
    engine.run_pass()
    row = _row(rt, enrollment_id)
    assert (row.link, row.exists_in_clockwork, len(_people(sim))) == ("linked", False, 1)


# --- R1 / R2 through the engine -----------------------------------------------------------------


def test_skipped_and_awaiting_enrollments_make_no_calls(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    account_id = _account(rt, sim_server, sync_mode="off")
    off = enroll(rt, make_sequence(rt, account_id, "A"), "off@example.com")
    disabled = enroll(rt, make_sequence(rt, account_id, "B", disable_sync=True), "dis@example.com")
    set_settings(rt, account_id, sync_mode="on_reply")
    awaiting = enroll(rt, make_sequence(rt, account_id, "C"), "wait@example.com")
    set_settings(rt, account_id, sync_mode="on_add")  # mode off -> on: no backfill
    before = _calls(sim)
    _settle(engine, rt.clock)  # type: ignore[arg-type]
    assert _calls(sim) == before
    statuses = [(_row(rt, i).status, _row(rt, i).reason) for i in (off, disabled, awaiting)]
    assert statuses == [
        ("skipped", "sync_off"), ("skipped", "sequence_sync_disabled"), ("awaiting_reply", None),
    ]  # fmt: skip


def test_reply_syncs_an_on_reply_enrollment_into_the_project_in_force_at_the_reply(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    p1, p2 = _projects(sim)[:2]
    account_id = _account(rt, sim_server, sync_mode="on_reply", default_project_id=p1)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "reply@example.com")
    engine.run_pass()
    assert _row(rt, enrollment_id).status == "awaiting_reply" and _people(sim) == []
    set_settings(rt, account_id, default_project_id=p2)
    _event(rt, enrollment_id, ActivityKind.REPLIED, subject="Re: intro")
    engine.run_pass()
    row = _row(rt, enrollment_id)
    assert (row.status, row.project_id) == ("synced", p2)
    (candidacy,) = sim.snapshot(SIM_FIRM)["candidacies"]
    assert candidacy["projectId"] == p2
    (note,) = sim.snapshot(SIM_FIRM)["notes"]
    assert "replied" in note["content"] and "Re: intro" in note["content"]


def test_project_set_after_add_or_after_sync_changes_nothing(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    account_id = _account(rt, sim_server)
    sequence_id = make_sequence(rt, account_id)
    synced_first = enroll(rt, sequence_id, "early@example.com")
    engine.run_pass()
    queued = enroll(rt, sequence_id, "queued@example.com")
    with rt.db.write() as session:
        accounts.update_sequence(
            session=session, sequence_id=sequence_id, changes={"project_id": _projects(sim)[0]},
            actor="t",
        )  # fmt: skip
    _settle(engine, rt.clock)  # type: ignore[arg-type]
    assert _row(rt, synced_first).project_id is None
    assert _row(rt, queued).project_id is None
    assert sim.snapshot(SIM_FIRM)["candidacies"] == []


# --- R5 activity ---------------------------------------------------------------------------------


def test_only_activity_tracked_at_its_time_becomes_a_note_once(
    rt: Runtime, engine: Engine, clock: FakeClock, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    before_connection = clock.now
    clock.advance(600)
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(rt, make_sequence(rt, account_id, "Execs"), "act@example.com")
    clock.advance(10)
    _event(rt, enrollment_id, ActivityKind.SENT, subject="Hello <b>there</b>")
    _event(rt, enrollment_id, ActivityKind.OPENED, at=before_connection)
    clock.advance(10)
    set_settings(rt, account_id, activity_tracking=False)
    clock.advance(10)
    _event(rt, enrollment_id, ActivityKind.CLICKED)
    set_settings(rt, account_id, activity_tracking=True)
    clock.advance(10)
    engine.run_pass()
    _event(rt, enrollment_id, ActivityKind.REPLIED, subject="Re: hello")  # after sync
    before = sum(_calls(sim).values())
    engine.run_pass()
    assert sum(_calls(sim).values()) - before == 1  # one note, no search
    notes = sim.snapshot(SIM_FIRM)["notes"]
    assert len(notes) == 2
    assert all(n["category"] == "Email" and n["contentType"] == "text/html" for n in notes)
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in notes[0]["content"]
    assert "Execs" in notes[0]["content"]
    with rt.db.read() as session:
        states = sorted(a.state for a in session.exec(select(Activity)).all())
    assert states == ["skipped", "skipped", "synced", "synced"]
    assert _row(rt, enrollment_id).next_attempt_at is None


# --- R6 credentials rejected ---------------------------------------------------------------------


def test_revoked_keys_pause_the_account_and_reconnect_resumes_it(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    account_id = _account(rt, sim_server)
    other_id = make_connected_account(rt, "Other", base_url=sim_server.base_url)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "paused@example.com")
    sim.revoke_key(SIM_KEYS["api_key"])
    counts = engine.run_pass()
    assert counts["paused"] == 1
    with rt.db.read() as session:
        summary = accounts.connection_summary(session=session, account_id=account_id)
    assert summary is not None and summary.state == ConnectionState.NEEDS_ATTENTION
    row = _row(rt, enrollment_id)
    assert (row.status, row.reason, row.attempts) == ("queued", "auth_failed", 0)
    assert engine.run_pass()["claimed"] == 0  # paused: queued work is not claimed
    assert other_id  # a second account is unaffected by this one's state (its own connection)
    sim.restore_key(SIM_KEYS["api_key"])
    accounts.connect(
        rt, account_id=account_id, fields=connection_fields(sim_server.base_url), actor="t"
    )
    engine.run_pass()
    assert _row(rt, enrollment_id).status == "synced"


# --- R7 transient and permanent failures ---------------------------------------------------------


def test_429_with_retry_after_backs_off_at_least_that_long_then_syncs(
    rt: Runtime, engine: Engine, clock: FakeClock, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "limited@example.com")
    sim_server.set_faults(FaultConfig(rate_limit_rps=0.01, burst=1, retry_after="seconds"))
    engine.run_pass()  # the burst token goes to the first call, the second gets 429
    row = _row(rt, enrollment_id)
    assert (row.status, row.reason, row.attempts) == ("retrying", "rate_limited", 1)
    assert row.next_attempt_at is not None
    assert (
        row.next_attempt_at - clock.now
    ).total_seconds() >= 50  # Retry-After ~100 s, capped jitter
    assert engine.run_pass()["claimed"] == 0  # not due yet: nothing is slept through
    sim_server.set_faults(None)
    clock.advance(3600)
    # This engine's pacer also holds the firm back for the real Retry-After; an hour on, a fresh
    # process (fresh pacer) is what sends next.
    Engine(rt, config=engine.config).run_pass()
    assert _row(rt, enrollment_id).status == "synced"
    assert len(_people(sim)) == 1


def test_server_errors_retry_up_to_the_cap_then_fail_with_the_message(
    rt: Runtime, engine: Engine, clock: FakeClock, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "down@example.com")
    sim_server.set_faults(FaultConfig(error_rate=1.0, error_statuses=(502,)))
    seen = []
    for _ in range(3):
        engine.run_pass()
        seen.append(_row(rt, enrollment_id).status)
        clock.advance(3600)
    row = _row(rt, enrollment_id)
    assert seen == ["retrying", "retrying", "failed"]
    assert (row.reason, row.attempts) == ("clockwork_unavailable", 3)
    assert "gave up after 3 attempts" in (row.last_error or "") and "502" in (row.last_error or "")


def test_validation_error_fails_at_once_and_retry_action_requeues(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    account_id = _account(rt, sim_server)
    sequence_id = make_sequence(rt, account_id, project_id="0000-no-such-project")
    enrollment_id = enroll(rt, sequence_id, "proj@example.com")
    engine.run_pass()
    row = _row(rt, enrollment_id)
    assert (row.status, row.reason, row.attempts) == ("failed", "not_found", 1)
    assert row.last_error
    with rt.db.write() as session:
        assert (
            actions.retry_enrollments(session=session, enrollment_ids=[enrollment_id], actor="t")
            == 1
        )
    assert _row(rt, enrollment_id).status == "queued"


def test_invalid_email_fails_without_any_api_call(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "fine@example.com")
    with rt.db.write() as session:  # as if the outreach product handed us a broken address
        contact = session.exec(select(Contact)).one()
        contact.email = "broken@@example"
        session.add(contact)
    before = _calls(sim)
    engine.run_pass()
    row = _row(rt, enrollment_id)
    assert (row.status, row.reason) == ("failed", "invalid_email")
    assert _calls(sim) == before


# --- R8 exactly once -----------------------------------------------------------------------------


class Crash(BaseException):
    """The process dies here (BaseException: nothing in the engine catches it)."""


def _pass_dies_after(engine: Engine, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """Run a pass whose process dies right after the client's ``method`` reached Clockwork, so
    nothing after it is recorded; the passes after it run as usual."""
    original_process = pipeline.process

    def crash_after(claim: Any, *, client: Any, **kwargs: Any) -> Any:
        real = getattr(client, method)

        def call_then_die(*a: Any, **k: Any) -> Any:
            real(*a, **k)
            raise Crash

        setattr(client, method, call_then_die)
        return original_process(claim, client=client, **kwargs)

    monkeypatch.setattr("sync_engine.engine.passes.process", crash_after)
    with pytest.raises(Crash):
        engine.run_pass()
    monkeypatch.setattr("sync_engine.engine.passes.process", original_process)


def _added_since(sim: SimulatorState, before: dict[str, int]) -> dict[str, int]:
    """The requests per route Clockwork got since ``before`` (from ``_calls``)."""
    return {
        route: n - before.get(route, 0)
        for route, n in _calls(sim).items()
        if n > before.get(route, 0)
    }


def test_crash_between_person_created_and_id_stored_creates_no_second_person(
    rt: Runtime, engine: Engine, clock: FakeClock, sim: SimulatorState,
    sim_server: SimulatorServer, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(
        rt, make_sequence(rt, account_id, project_id=_projects(sim)[0]), "crash@example.com",
        title="VP", company="Initech",
    )  # fmt: skip
    real_store = pipeline._store_person

    def crash_once(*args: Any, **kwargs: Any) -> None:
        monkeypatch.setattr(pipeline, "_store_person", real_store)
        raise Crash

    monkeypatch.setattr(pipeline, "_store_person", crash_once)
    with pytest.raises(Crash):
        engine.run_pass()
    assert len(_people(sim)) == 1 and _row(rt, enrollment_id).status == "syncing"
    clock.advance(rt.settings.lease_seconds + 1)  # the dead worker's lease expires
    engine.run_pass()
    row = _row(rt, enrollment_id)
    (person,) = _people(sim)
    assert (row.status, row.link, row.exists_in_clockwork) == ("synced", "created", False)
    assert row.clockwork_person_id == person["id"]
    assert len(person["emails"]) == 1 and len(person["positions"]) == 1
    assert len(sim.snapshot(SIM_FIRM)["candidacies"]) == 1


def test_a_sync_whose_lease_was_taken_meanwhile_records_nothing(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(
        rt, make_sequence(rt, account_id, project_id=_projects(sim)[0]), "taken@example.com"
    )
    original_process = pipeline.process

    def lease_taken_after_candidacy(claim: Any, *, client: Any, **kwargs: Any) -> Any:
        real = client.add_candidacy

        def add_then_lose_the_lease(*a: Any, **k: Any) -> Any:
            result = real(*a, **k)
            with rt.db.write() as session:  # another worker claimed it after our lease expired
                enrollment = session.get(Enrollment, enrollment_id)
                assert enrollment is not None
                enrollment.lease_owner = "another-engine:1"
                session.add(enrollment)
            return result

        client.add_candidacy = add_then_lose_the_lease
        return original_process(claim, client=client, **kwargs)

    monkeypatch.setattr("sync_engine.engine.passes.process", lease_taken_after_candidacy)
    assert engine.run_pass()["lost_lease"] == 1
    row = _row(rt, enrollment_id)
    assert (row.status, row.lease_owner, row.synced_at) == ("syncing", "another-engine:1", None)
    with rt.db.read() as session:
        contact = session.get(Contact, row.contact_id)
    assert contact is not None and not contact.email_attached  # its steps are the new owner's


def test_an_event_recorded_while_the_sync_is_stored_is_not_left_behind(
    runtime: Runtime, clock: FakeClock, sim_state: SimulatorState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # The ingest API records an event between the sync's UPDATE and its release if nothing is
    # pending (the statement that looks for pending notes).
    engine = Engine(runtime, config=PipelineConfig(max_attempts=3, backoff_base=2, backoff_cap=60))
    account_id = make_connected_account(runtime)
    enrollment_id = enroll(runtime, make_sequence(runtime, account_id), "race@example.com")
    recorder: list[threading.Thread] = []

    class EventArrivesMeanwhile:
        def __init__(self, real: Any) -> None:
            self.real = real

        def run(self, session: Any, params: Any) -> list[Any]:
            if not recorder:
                recorder.append(
                    threading.Thread(
                        target=_event, args=(runtime, enrollment_id, ActivityKind.SENT)
                    )
                )
                recorder[0].start()
                recorder[0].join(timeout=1.0)  # blocked by our row lock, unless there is none
            return self.real.run(session, params)

    for name in ("_RELEASE_IF_DONE", "_RELEASE_AND_CLOSE"):  # SQLite's, PostgreSQL's
        monkeypatch.setattr(pipeline, name, EventArrivesMeanwhile(getattr(pipeline, name)))
    engine.run_pass()
    recorder[0].join()
    monkeypatch.undo()
    clock.advance(1)
    engine.run_pass()
    assert len(sim_state.snapshot(SIM_FIRM)["notes"]) == 1
    with runtime.db.read() as session:
        (activity,) = session.exec(select(Activity)).all()
    assert activity.state == "synced"


def test_crash_after_a_note_is_written_does_not_write_it_twice(
    rt: Runtime, engine: Engine, clock: FakeClock, sim: SimulatorState,
    sim_server: SimulatorServer, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "note@example.com")
    engine.run_pass()
    _event(rt, enrollment_id, ActivityKind.OPENED)
    _pass_dies_after(engine, monkeypatch, "create_note")
    clock.advance(rt.settings.lease_seconds + 1)
    engine.run_pass()
    notes = sim.snapshot(SIM_FIRM)["notes"]
    assert len(notes) == 1
    with rt.db.read() as session:
        (activity,) = session.exec(select(Activity)).all()
    assert (activity.state, activity.note_id) == ("synced", notes[0]["id"])


def _steps(rt: Runtime, enrollment_id: int) -> tuple[bool, bool, bool]:
    with rt.db.read() as session:
        contact = session.get(Contact, _row(rt, enrollment_id).contact_id)
        assert contact is not None
        return (contact.email_attached, contact.position_attached, contact.linkedin_attached)


_STEPS = ("add_email", "add_position", "add_linkedin_url", "add_candidacy")
_ROUTES = {"add_email": "POST /people/{id}/email_addresses",
           "add_position": "POST /people/{id}/positions",
           "add_linkedin_url": "POST /people/{id}/linkedin_urls",
           "add_candidacy": "POST /projects/{id}/candidacies"}  # fmt: skip


@pytest.mark.parametrize("last_done", _STEPS)
def test_a_crash_after_any_person_step_adds_nothing_twice(
    rt: Runtime, engine: Engine, clock: FakeClock, sim: SimulatorState,
    sim_server: SimulatorServer, monkeypatch: pytest.MonkeyPatch, last_done: str,
) -> None:  # fmt: skip
    # The steps' flags are stored with the next lease renewal or the sync, not before every
    # write: whatever reached Clockwork unrecorded is found by reading the person back.
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(
        rt, make_sequence(rt, account_id, project_id=_projects(sim)[0]), "steps@example.com",
        title="VP", company="Initech", linkedin_url="https://linkedin.com/in/steps",
    )  # fmt: skip
    _pass_dies_after(engine, monkeypatch, last_done)
    clock.advance(rt.settings.lease_seconds + 1)
    before = _calls(sim)
    assert engine.run_pass()["synced"] == 1
    (person,) = _people(sim)
    assert [len(person[key]) for key in ("emails", "positions", "linkedinUrls")] == [1, 1, 1]
    candidacies = sim.snapshot(SIM_FIRM)["candidacies"]
    assert [c["personId"] for c in candidacies] == [person["id"]]
    remaining = _STEPS[_STEPS.index(last_done) + 1 :]
    expected = {"GET /people/{id}": 1, **{_ROUTES[step]: 1 for step in remaining}}
    if last_done == "add_candidacy":  # sent again: Clockwork refuses it, the listing shows it
        expected.update({_ROUTES["add_candidacy"]: 1, "GET /projects/{id}/candidacies": 1})
    assert _added_since(sim, before) == expected
    assert _row(rt, enrollment_id).status == "synced"
    assert _steps(rt, enrollment_id) == (True, True, True)


def test_crash_after_the_last_person_step_reads_the_person_back_and_adds_nothing_twice(
    rt: Runtime, engine: Engine, clock: FakeClock, sim: SimulatorState,
    sim_server: SimulatorServer, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(
        rt, make_sequence(rt, account_id), "last@example.com", title="VP", company="Initech"
    )
    _pass_dies_after(engine, monkeypatch, "add_position")
    clock.advance(rt.settings.lease_seconds + 1)
    before = _calls(sim)
    assert engine.run_pass()["synced"] == 1
    (person,) = _people(sim)
    assert len(person["emails"]) == 1 and len(person["positions"]) == 1
    assert _added_since(sim, before) == {"GET /people/{id}": 1}
    assert _row(rt, enrollment_id).status == "synced"
    assert _steps(rt, enrollment_id) == (True, True, False)


def test_status_json_shows_every_field_of_spec_section_6(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    from sync_engine.services.status import iter_status

    account_id = _account(rt, sim_server)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "json@example.com")
    _event(rt, enrollment_id, ActivityKind.SENT)
    engine.run_pass()
    with rt.db.read() as session:
        (row,) = list(iter_status(session=session, account_id=account_id))
    assert row["status"] == EnrollmentStatus.SYNCED and row["link"] == "created"
    assert row["activities"] == {"pending": 0, "synced": 1, "skipped": 0, "failed": 0}
    assert {
        "enrollment_id", "email", "sequence_id", "status", "reason", "link",
        "exists_in_clockwork", "clockwork_person_id", "project_id", "activities",
    } <= set(row)  # fmt: skip


def test_api_calls_are_logged_with_path_templates_and_no_secrets(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    from sync_engine.models import ApiCall, ClockworkConnection

    account_id = _account(rt, sim_server)
    enroll(rt, make_sequence(rt, account_id, project_id=_projects(sim)[0]), "log@example.com")
    engine.run_pass()
    with rt.db.read() as session:
        calls = session.exec(select(ApiCall)).all()
        connection = session.exec(select(ClockworkConnection)).one()
    paths = {(c.method, c.path) for c in calls}
    assert ("POST", "/people/{id}/email_addresses") in paths
    assert ("POST", "/projects/{id}/candidacies") in paths
    assert all(c.status and c.latency_ms >= 0 and c.account_id == account_id for c in calls)
    text = " ".join(f"{c.path} {c.error}" for c in calls)
    assert not any(secret in text for secret in SIM_KEYS.values())
    assert "log@example.com" not in text
    assert connection.last_success_at is not None


def test_api_call_log_keeps_only_the_configured_number_of_calls(
    sqlite_url: str, clock: FakeClock, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    from sqlmodel import func

    from sync_engine.models import ApiCall
    from tests.factories import make_runtime

    small = make_runtime(sqlite_url, clock=clock, default_max_rps=500, api_call_log_retention=100)
    engine = Engine(small)
    account_id = _account(small, sim_server)
    sequence_id = make_sequence(small, account_id)
    for i in range(40):
        enroll(small, sequence_id, f"many{i}@example.com")
    _settle(engine, clock)
    with small.db.read() as session:
        kept = session.exec(select(func.count()).select_from(ApiCall)).one()
    small.close()
    assert sum(_calls(sim).values()) > 100 and kept == 100


def test_runs_are_recorded_with_counts(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    from sync_engine.models import EngineRun

    account_id = _account(rt, sim_server)
    enroll(rt, make_sequence(rt, account_id), "run@example.com")
    engine.run_pass(trigger="manual")
    with rt.db.read() as session:
        (run,) = session.exec(select(EngineRun)).all()
    assert (run.trigger, run.counts, run.error) == ("manual", {"claimed": 1, "synced": 1}, None)


def test_a_crash_before_the_create_does_not_adopt_an_older_namesake_without_email(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # A recruiter entered "Ada Lovelace" in Clockwork an hour ago, with no email.
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    monkeypatch.setattr(sim, "_clock", lambda: hour_ago)
    namesake = sim.seed_person(SIM_FIRM, first_name="Ada", last_name="Lovelace")
    monkeypatch.undo()
    account_id = _account(rt, sim_server)
    enrollment_id = enroll(
        rt, make_sequence(rt, account_id), "ada@example.com", first_name="Ada",
        last_name="Lovelace",
    )  # fmt: skip
    real_create = ClockworkClient.create_person

    def crash_before_create(*args: Any, **kwargs: Any) -> None:
        monkeypatch.setattr(ClockworkClient, "create_person", real_create)
        raise Crash  # the creation was recorded as started; nothing reached Clockwork

    monkeypatch.setattr(ClockworkClient, "create_person", crash_before_create)
    with pytest.raises(Crash):
        engine.run_pass()
    rt.clock.advance(rt.settings.lease_seconds + 1)  # type: ignore[attr-defined]
    engine.run_pass()
    row = _row(rt, enrollment_id)
    people = {person["id"]: person for person in _people(sim)}
    assert len(people) == 2 and row.clockwork_person_id != namesake["id"]
    assert (row.status, row.link) == ("synced", "created")
    assert people[namesake["id"]]["emails"] is None  # the recruiter's person is left alone


def test_dedup_turned_off_before_the_reply_that_queues_a_contact_added_while_disconnected(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    sim.seed_person(SIM_FIRM, first_name="Known", last_name="Person", emails=["known@example.com"])
    with rt.db.write() as session:
        account = accounts.create_account(session=session, name="Later", actor="t")
    assert account.id is not None
    set_settings(rt, account.id, deduplication=True)
    enrollment_id = enroll(rt, make_sequence(rt, account.id), "known@example.com")
    assert _row(rt, enrollment_id).reason == "not_connected"
    set_settings(rt, account.id, deduplication=False)
    accounts.connect(
        rt, account_id=account.id, fields=connection_fields(sim_server.base_url), actor="t"
    )
    _event(rt, enrollment_id, ActivityKind.REPLIED)
    engine.run_pass()
    row = _row(rt, enrollment_id)
    assert (row.status, row.link, row.exists_in_clockwork) == ("synced", "linked", False)


def test_a_sync_stores_its_steps_closes_its_attempt_and_releases_on_each_backend(
    runtime: Runtime, sim_state: SimulatorState
) -> None:
    account_id = make_connected_account(runtime)
    enrollment_id = enroll(
        runtime, make_sequence(runtime, account_id), "steps@example.com", first_name="Step",
        title="CTO", company="Initech", linkedin_url="https://www.linkedin.com/in/steps",
    )  # fmt: skip
    engine = Engine(runtime, config=PipelineConfig(max_attempts=3, backoff_base=2, backoff_cap=60))
    assert engine.run_pass()["synced"] == 1
    row = _row(runtime, enrollment_id)
    assert (row.status, row.lease_owner, row.next_attempt_at) == ("synced", None, None)
    assert _steps(runtime, enrollment_id) == (True, True, True)
    with runtime.db.read() as session:
        (attempt,) = session.exec(select(SyncAttempt)).all()
    assert (attempt.outcome, attempt.finished_at is not None) == ("synced", True)
    (person,) = sim_state.snapshot(SIM_FIRM)["people"]
    assert [len(person[key] or []) for key in ("emails", "positions", "linkedinUrls")] == [1, 1, 1]

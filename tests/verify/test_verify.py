"""Verify against the simulator on a real socket: each kind of drift made through the simulator's
admin routes is found, stored with the contact in plain words, nothing is written to Clockwork,
and the reads stay within two per contact on average."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.clockwork.client import ClockworkClient
from sync_engine.clockwork.errors import ClockworkUnexpectedResponse
from sync_engine.demo import SimulatorAdmin
from sync_engine.engine.passes import Engine
from sync_engine.models import ActivityKind, ConnectionState, Contact, Enrollment
from sync_engine.runtime import Runtime
from sync_engine.services import events
from sync_engine.verify.models import CheckStatus, ContactCheck, VerifyState
from sync_engine.verify.runs import VerifyError, advance, plan, request_verification
from tests.factories import (
    SIM_FIRM,
    enroll,
    make_connected_account,
    make_runtime,
    make_sequence,
    set_connection_state,
)


@pytest.fixture
def rt(database_url: str, sim: SimulatorState) -> Iterator[Runtime]:
    runtime = make_runtime(database_url, default_max_rps=500, http_timeout_seconds=2)
    yield runtime
    runtime.close()


def _sync(rt: Runtime) -> None:
    """Run the engine until nothing is left to do."""
    engine = Engine(rt)
    try:
        engine.run_until_idle(timeout=30)
    finally:
        engine.close()


def _synced_account(rt: Runtime, sim_server: SimulatorServer, count: int = 6) -> int:
    """An account with ``count`` synced contacts in a project, the first two with a reply note."""
    account_id = make_connected_account(rt, base_url=sim_server.base_url)
    with SimulatorAdmin(sim_server.base_url) as admin:
        project_id = admin.projects(SIM_FIRM)[0]["id"]
    sequence_id = make_sequence(rt, account_id, project_id=project_id)
    ids = [
        enroll(rt, sequence_id, f"person{i}@example.com", first_name=f"P{i}") for i in range(count)
    ]
    with rt.db.write() as session:
        for enrollment_id in ids[:2]:
            events.record_event(
                session=session, enrollment_id=enrollment_id, kind=ActivityKind.REPLIED,
                at=None, subject="Re: hello",
            )  # fmt: skip
    _sync(rt)
    return account_id


def _person(rt: Runtime, email: str) -> str:
    with rt.db.read() as session:
        contact = session.exec(select(Contact).where(Contact.email == email)).one()
    assert contact.clockwork_person_id is not None
    return contact.clockwork_person_id


def _drift(rt: Runtime, admin: SimulatorAdmin) -> str:
    """Each kind of drift, through the simulator's admin routes: person5 deleted, person4 merged
    into a new person (its id returned), person3 out of the project, person0's reply note gone."""
    state = admin.state(SIM_FIRM)
    project_id = state["candidacies"][0]["projectId"]
    admin.delete_person(SIM_FIRM, _person(rt, "person5@example.com"))
    survivor = admin.seed_person(SIM_FIRM, first_name="Keep", last_name="Me")
    admin.merge_person(SIM_FIRM, _person(rt, "person4@example.com"), into=survivor["id"])
    admin.remove_candidacy(SIM_FIRM, project_id, _person(rt, "person3@example.com"))
    note = next(n for n in state["notes"] if n["personId"] == _person(rt, "person0@example.com"))
    admin.delete_note(SIM_FIRM, note["id"])
    return str(survivor["id"])


def _remove_emails(sim_server: SimulatorServer, person_id: str) -> None:
    """Take every email off the person in Clockwork (no admin route edits an email)."""
    with sim_server.state._lock:
        person = sim_server.state._firms[SIM_FIRM].people[person_id]
        person["emails"], person["preferredEmailAddress"] = [], None


def _checks(rt: Runtime) -> dict[str, ContactCheck]:
    with rt.db.read() as session:
        rows = session.exec(select(ContactCheck, Contact).join(Contact)).all()
    return {contact.email: check for check, contact in rows}


def test_each_kind_of_drift_is_found_and_nothing_is_written_to_clockwork(
    rt: Runtime, sim_server: SimulatorServer
) -> None:
    account_id = _synced_account(rt, sim_server)
    with SimulatorAdmin(sim_server.base_url) as admin:
        survivor_id = _drift(rt, admin)
        before = admin.state(SIM_FIRM)
        writes_before = {
            k: v for k, v in sim_server.state.request_counts(SIM_FIRM)["routes"].items()
            if not k.startswith("GET")
        }  # fmt: skip

    run = request_verification(rt, account_id=account_id, actor="ana")
    assert run.total == 6
    run = advance(rt, run.id or 0)
    assert (run.state, run.checked, run.drifted) == (VerifyState.DONE, 6, 4)

    checks = _checks(rt)
    assert checks["person1@example.com"].status == CheckStatus.OK
    assert checks["person2@example.com"].status == CheckStatus.OK
    drifts = {email: [f["drift"] for f in c.findings] for email, c in checks.items()}
    assert drifts["person5@example.com"] == ["person_missing"]
    assert drifts["person4@example.com"] == ["person_merged"]  # the email moved with the merge
    assert checks["person4@example.com"].findings[0]["survivor_id"] == survivor_id
    assert drifts["person3@example.com"] == ["candidacy_missing"]
    assert drifts["person0@example.com"] == ["notes_missing"]
    assert checks["person0@example.com"].reason == (
        "1 email activity note is missing from the person in Clockwork."
    )
    with SimulatorAdmin(sim_server.base_url) as admin:
        assert admin.state(SIM_FIRM) == before, "verifying changed Clockwork"
    writes_after = {
        k: v for k, v in sim_server.state.request_counts(SIM_FIRM)["routes"].items()
        if not k.startswith("GET")
    }  # fmt: skip
    assert writes_after == writes_before
    # A person read for each of the 6, notes for the 2 with activity, one page of candidates.
    assert run.reads <= 2 * run.checked
    assert run.reads == 6 + 2 + 1


def test_an_email_removed_from_the_person_is_found(
    rt: Runtime, sim_server: SimulatorServer
) -> None:
    account_id = _synced_account(rt, sim_server, count=1)
    person_id = _person(rt, "person0@example.com")
    _remove_emails(sim_server, person_id)
    run = request_verification(rt, account_id=account_id, actor="ana")
    advance(rt, run.id or 0)
    (check,) = _checks(rt).values()
    assert [f["drift"] for f in check.findings] == ["email_missing"]
    assert check.reason == "The person in Clockwork no longer has the email person0@example.com."


def test_a_sample_checks_about_that_many_and_the_dry_run_sends_nothing(
    rt: Runtime, sim_server: SimulatorServer
) -> None:
    account_id = _synced_account(rt, sim_server, count=6)
    requests = sim_server.state.request_counts(SIM_FIRM)["total"]
    planned = plan(rt, account_id=account_id)
    assert (planned.contacts, planned.projects, planned.with_notes) == (6, 1, 2)
    assert planned.estimated_reads == 9
    assert sim_server.state.request_counts(SIM_FIRM)["total"] == requests
    run = request_verification(rt, account_id=account_id, sample=3, actor="ana")
    run = advance(rt, run.id or 0)
    assert run.state == VerifyState.DONE and run.checked == 3


def test_verifying_a_disconnected_account_is_refused_in_one_line(
    rt: Runtime, sim_server: SimulatorServer
) -> None:
    with pytest.raises(VerifyError, match="not connected"):
        from sync_engine.services import accounts

        with rt.db.write() as session:
            account = accounts.create_account(session=session, name="Lone", actor="t")
        request_verification(rt, account_id=account.id or 0, actor="ana")


def test_verifying_an_account_whose_credentials_clockwork_rejected_is_refused(
    rt: Runtime, sim_server: SimulatorServer
) -> None:
    account_id = make_connected_account(rt, base_url=sim_server.base_url)
    set_connection_state(rt, account_id, ConnectionState.NEEDS_ATTENTION, last_error="401")
    with pytest.raises(VerifyError, match="not connected"):
        request_verification(rt, account_id=account_id, actor="ana")


def test_a_project_too_large_to_list_leaves_candidacies_unchecked_not_the_run_stopped(
    rt: Runtime, sim_server: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = _synced_account(rt, sim_server, count=2)
    with SimulatorAdmin(sim_server.base_url) as admin:
        admin.delete_person(SIM_FIRM, _person(rt, "person1@example.com"))

    def too_long(self: object, project_id: str, **kwargs: object) -> object:
        raise ClockworkUnexpectedResponse(
            "the listing did not end after 100 pages", method="GET",
            path_template="/projects/{id}/candidacies",
        )  # fmt: skip

    monkeypatch.setattr(ClockworkClient, "iter_candidacies", too_long)
    run = request_verification(rt, account_id=account_id, actor="ana")
    run = advance(rt, run.id or 0)
    assert (run.state, run.checked, run.drifted) == (VerifyState.DONE, 2, 1)
    checks = _checks(rt)
    assert checks["person0@example.com"].status == CheckStatus.OK
    assert [f["drift"] for f in checks["person1@example.com"].findings] == ["person_missing"]


def test_contacts_synced_after_the_request_are_checked_and_counted_in_the_total(
    rt: Runtime, sim_server: SimulatorServer
) -> None:
    account_id = _synced_account(rt, sim_server, count=2)
    run = request_verification(rt, account_id=account_id, actor="ana")
    assert run.total == 2
    with rt.db.read() as session:
        sequence_id = session.exec(select(Enrollment.sequence_id)).first()
    assert sequence_id is not None
    enroll(rt, sequence_id, "late@example.com")
    _sync(rt)
    run = advance(rt, run.id or 0)
    assert (run.state, run.checked, run.total) == (VerifyState.DONE, 3, 3)

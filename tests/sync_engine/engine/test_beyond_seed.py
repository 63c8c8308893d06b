"""B2-B4: LinkedIn matching with review, re-sync to project, activity backfill; each opt-in, each
previewed, a dry run equal to the real run and a second run a no-op."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.engine.passes import Engine
from sync_engine.matching import normalize_linkedin_url
from sync_engine.models import ActivityKind, AuditEntry
from sync_engine.runtime import Runtime
from sync_engine.services import accounts, actions, events
from sync_engine.services.activity_backfill import (
    apply_backfill,
    count_backfill,
    plan_backfill,
)
from sync_engine.services.errors import InvalidInputError
from sync_engine.services.project_resync import apply_resync, plan_resync
from tests.factories import SIM_FIRM, FakeClock, enroll, make_connected_account, make_sequence


def _account(rt: Runtime, server: SimulatorServer, **settings: object) -> int:
    return make_connected_account(rt, base_url=server.base_url, **settings)


def _row(rt: Runtime, enrollment_id: int) -> Any:
    with rt.db.read() as session:
        return events.get_enrollment(session=session, enrollment_id=enrollment_id)


def _people(sim: SimulatorState) -> list[dict[str, Any]]:
    return list(sim.snapshot(SIM_FIRM)["people"])


@pytest.mark.parametrize(
    "url",
    [
        "https://www.linkedin.com/in/ada-lovelace/",
        "http://linkedin.com/in/Ada-Lovelace",
        "linkedin.com/in/ada-lovelace?trk=public_profile",
        "https://uk.linkedin.com/in/ada-lovelace#about",
        "  HTTPS://WWW.LINKEDIN.COM/in/ada-lovelace  ",
    ],
)
def test_linkedin_urls_normalise_to_one_profile(url: str) -> None:
    assert normalize_linkedin_url(url) == "linkedin.com/in/ada-lovelace"


def _seed_ada(sim: SimulatorState, email: str = "ada@old-job.example") -> dict[str, Any]:
    return sim.seed_person(
        SIM_FIRM, first_name="Ada", last_name="Lovelace", emails=[email],
        linkedin_urls=["https://www.linkedin.com/in/ada-lovelace/"],
    )  # fmt: skip


def _enroll_ada(rt: Runtime, account_id: int) -> int:
    return enroll(
        rt, make_sequence(rt, account_id), "ada@new-job.example", first_name="Ada",
        last_name="Lovelace", linkedin_url="http://linkedin.com/in/Ada-Lovelace?trk=x",
    )  # fmt: skip


def test_without_the_option_a_job_change_creates_a_second_person(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    _seed_ada(sim)
    enrollment_id = _enroll_ada(rt, _account(rt, sim_server))
    engine.run_pass()
    assert _row(rt, enrollment_id).link == "created" and len(_people(sim)) == 2


def test_link_by_linkedin_links_the_person_and_adds_the_new_email(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    ada = _seed_ada(sim)
    enrollment_id = _enroll_ada(rt, _account(rt, sim_server, link_by_linkedin=True))
    engine.run_pass()
    row = _row(rt, enrollment_id)
    assert (row.status, row.link, row.match_rule) == ("synced", "linked", "linkedin")
    assert row.clockwork_person_id == ada["id"] and row.exists_in_clockwork
    (person,) = _people(sim)
    assert sorted(e["address"] for e in person["emails"]) == [
        "ada@new-job.example", "ada@old-job.example",
    ]  # fmt: skip


def test_ambiguous_linkedin_match_waits_for_review_then_links_the_chosen_person(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    _seed_ada(sim, "ada@one.example")
    second = _seed_ada(sim, "ada@two.example")
    enrollment_id = _enroll_ada(rt, _account(rt, sim_server, link_by_linkedin=True))
    engine.run_pass()
    row = _row(rt, enrollment_id)
    assert (row.status, row.reason) == ("needs_review", "ambiguous_linkedin_match")
    assert {c["id"] for c in row.review_candidates} == {p["id"] for p in _people(sim)}
    with pytest.raises(InvalidInputError, match="not one of the candidates"), rt.db.write() as s:
        actions.resolve_review(
            session=s, enrollment_id=enrollment_id, person_id="someone-else", actor="t",
        )  # fmt: skip
    with rt.db.write() as session:
        actions.resolve_review(
            session=session, enrollment_id=enrollment_id, person_id=second["id"],
            actor="alice",
        )  # fmt: skip
    engine.run_pass()
    row = _row(rt, enrollment_id)
    assert (row.status, row.match_rule, row.clockwork_person_id) == (
        "synced", "review", second["id"],
    )  # fmt: skip
    assert len(_people(sim)) == 2


def test_review_can_choose_a_new_person(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    _seed_ada(sim, "ada@one.example")
    _seed_ada(sim, "ada@two.example")
    enrollment_id = _enroll_ada(rt, _account(rt, sim_server, link_by_linkedin=True))
    engine.run_pass()
    with rt.db.write() as session:
        actions.resolve_review(
            session=session, enrollment_id=enrollment_id, person_id=None, actor="t",
        )  # fmt: skip
    engine.run_pass()
    assert _row(rt, enrollment_id).link == "created" and len(_people(sim)) == 3


def test_resync_to_project_dry_run_equals_the_real_run_and_a_second_run_is_a_no_op(
    rt: Runtime, engine: Engine, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    project = sim.snapshot(SIM_FIRM)["projects"][0]["id"]
    account_id = _account(rt, sim_server)
    sequence_id = make_sequence(rt, account_id)
    ids = [enroll(rt, sequence_id, f"early{i}@example.com") for i in range(3)]
    engine.run_pass()
    from sync_engine.clockwork.client import ClockworkClient, Credentials
    from tests.factories import SIM_KEYS

    with ClockworkClient(Credentials(firm=SIM_FIRM, base_url=sim_server.base_url, **SIM_KEYS)) as c:
        c.add_candidacy(project, _row(rt, ids[0]).clockwork_person_id)  # a recruiter added one
    with rt.db.write() as session:
        accounts.update_sequence(
            session=session, sequence_id=sequence_id, changes={"project_id": project},
            actor="t",
        )  # fmt: skip
    preview = plan_resync(rt, sequence_id=sequence_id)
    assert [i.enrollment_id for i in preview.to_add] == ids[1:]
    assert [i.enrollment_id for i in preview.already_there] == ids[:1]
    assert len(sim.snapshot(SIM_FIRM)["candidacies"]) == 1  # the preview changed nothing
    applied = apply_resync(rt, sequence_id=sequence_id, actor="alice")
    assert applied.items == preview.items
    engine.run_pass()
    candidacies = sim.snapshot(SIM_FIRM)["candidacies"]
    assert sorted(c["personId"] for c in candidacies) == sorted(
        _row(rt, i).clockwork_person_id for i in ids
    )
    assert apply_resync(rt, sequence_id=sequence_id, actor="alice").items == []
    assert all(_row(rt, i).project_id == project for i in ids)
    with rt.db.read() as session:
        audit = session.exec(select(AuditEntry).where(AuditEntry.field == "resync_project")).all()
    assert len(audit) == 1 and audit[0].actor == "alice"


def test_activity_backfill_sends_what_tracking_off_skipped_exactly_once(
    rt: Runtime, engine: Engine, clock: FakeClock, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    before_connection = clock.now
    clock.advance(60)
    account_id = _account(rt, sim_server, activity_tracking=False)
    enrollment_id = enroll(rt, make_sequence(rt, account_id), "bf@example.com")
    clock.advance(60)

    def event(kind: ActivityKind, at: Any = None) -> None:
        with rt.db.write() as session:
            events.record_event(
                session=session, enrollment_id=enrollment_id, kind=kind, at=at, subject="Hi",
            )  # fmt: skip

    event(ActivityKind.SENT)
    event(ActivityKind.OPENED)
    event(ActivityKind.CLICKED, at=before_connection)
    engine.run_pass()
    assert sim.snapshot(SIM_FIRM)["notes"] == []
    with rt.db.read() as session:
        preview = plan_backfill(session=session, account_id=account_id)
        with_old = plan_backfill(
            session=session, account_id=account_id, include_before_connection=True
        )
        first = plan_backfill(session=session, account_id=account_id, limit=1)
        counts = [
            count_backfill(session=session, account_id=account_id, include_before_connection=old)
            for old in (False, True)
        ]
    assert [i.kind for i in preview] == ["sent", "opened"]
    assert [i.kind for i in with_old] == ["clicked", "sent", "opened"]
    assert [i.kind for i in first] == ["sent"] and counts == [2, 3]  # the page's preview
    with rt.db.write() as session:
        assert (
            apply_backfill(session=session, account_id=account_id, items=preview, actor="bob") == 2
        )
    engine.run_pass()
    assert len(sim.snapshot(SIM_FIRM)["notes"]) == 2
    with rt.db.write() as session:
        again = plan_backfill(session=session, account_id=account_id)
        assert again == []
        assert apply_backfill(session=session, account_id=account_id, items=again, actor="bob") == 0
    engine.run_pass()
    assert len(sim.snapshot(SIM_FIRM)["notes"]) == 2

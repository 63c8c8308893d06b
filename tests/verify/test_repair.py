"""Repair: previewed per contact, queued for the normal engine, audited; after the engine's pass a
second verification finds nothing, and repairing twice writes nothing twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from sqlmodel import select

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.demo import SimulatorAdmin
from sync_engine.models import AuditEntry
from sync_engine.runtime import Runtime
from sync_engine.verify.models import CheckStatus, VerifyState
from sync_engine.verify.repair import apply_repair, preview_repair
from sync_engine.verify.runs import advance, request_verification
from tests.factories import SIM_FIRM, make_runtime
from tests.verify.test_verify import (
    _checks,
    _drift,
    _person,
    _remove_emails,
    _sync,
    _synced_account,
)


@pytest.fixture
def rt(database_url: str, sim: SimulatorState) -> Iterator[Runtime]:
    runtime = make_runtime(database_url, default_max_rps=500, http_timeout_seconds=2)
    yield runtime
    runtime.close()


def _verify(rt: Runtime, account_id: int) -> None:
    run = request_verification(rt, account_id=account_id, actor="ana")
    assert advance(rt, run.id or 0).state == VerifyState.DONE


def test_drift_is_previewed_repaired_by_the_engine_and_verifies_clean(
    rt: Runtime, sim_server: SimulatorServer
) -> None:
    account_id = _synced_account(rt, sim_server)
    with SimulatorAdmin(sim_server.base_url) as admin:
        survivor_id = _drift(rt, admin)
        project_id = admin.projects(SIM_FIRM)[0]["id"]
        admin.remove_candidacy(SIM_FIRM, project_id, survivor_id)  # the merge kept it: undo
    _verify(rt, account_id)

    with rt.db.read() as session:
        preview = {
            step.email: step for step in preview_repair(session=session, account_id=account_id)
        }
    assert set(preview) == {f"person{i}@example.com" for i in (0, 3, 4, 5)}
    assert preview["person5@example.com"].actions == [
        "Find or create the person again, add them to the project and write their notes again"
    ]
    assert preview["person4@example.com"].actions[0] == (
        "Link the contact to the person it was merged into"
    )

    with rt.db.write() as session:
        assert apply_repair(session=session, account_id=account_id, actor="ana") == 4
    with rt.db.write() as session:  # idempotent: nothing left to queue
        assert apply_repair(session=session, account_id=account_id, actor="ana") == 0
    with rt.db.read() as session:
        audit = session.exec(select(AuditEntry).where(AuditEntry.field == "repair")).all()
    assert len(audit) == 4 and {entry.actor for entry in audit} == {"ana"}
    _sync(rt)

    _verify(rt, account_id)
    checks = _checks(rt)
    assert {email: c.status for email, c in checks.items()} == {
        f"person{i}@example.com": CheckStatus.OK for i in range(6)
    }, {email: c.reason for email, c in checks.items()}
    assert _person(rt, "person4@example.com") == survivor_id
    with SimulatorAdmin(sim_server.base_url) as admin:
        state = admin.state(SIM_FIRM)
    per_person = Counter(n["personId"] for n in state["notes"])
    assert per_person[_person(rt, "person0@example.com")] == 1, "the note written once again"
    assert per_person[_person(rt, "person1@example.com")] == 1, "untouched notes not repeated"
    candidates = Counter((c["projectId"], c["personId"]) for c in state["candidacies"])
    assert max(candidates.values()) == 1


def test_an_email_removed_from_a_person_we_created_is_put_back(
    rt: Runtime, sim_server: SimulatorServer
) -> None:
    account_id = _synced_account(rt, sim_server, count=1)
    person_id = _person(rt, "person0@example.com")
    _remove_emails(sim_server, person_id)
    _verify(rt, account_id)
    with rt.db.write() as session:
        assert apply_repair(session=session, account_id=account_id, actor="a") == 1
    _sync(rt)
    _verify(rt, account_id)
    assert [c.status for c in _checks(rt).values()] == [CheckStatus.OK]
    with SimulatorAdmin(sim_server.base_url) as admin:
        people = admin.state(SIM_FIRM)["people"]
    assert [p["id"] for p in people if p["preferredEmailAddress"] == "person0@example.com"] == [
        person_id
    ], "the same person, its email back; no second person"

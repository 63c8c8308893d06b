"""The dashboard's Verify page: an admin starts a verification, the engine works it, the drifted
contacts are listed with a plain reason, the repair is previewed and queued; a viewer sees the
findings but no buttons."""

from __future__ import annotations

from typing import Any

import pytest
import streamlit as st

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.demo import SimulatorAdmin
from sync_engine.runtime import Runtime
from sync_engine.services.queries import contact_table
from sync_engine.verify.job import work_verifications
from sync_engine.verify.models import CheckStatus
from sync_engine.verify.runs import advance, request_verification
from tests.dashboard.conftest import (  # noqa: F401  (fixtures)
    VIEWER,
    _served_on_loopback,
    open_page,
    store,
    texts,
)
from tests.factories import SIM_FIRM
from tests.verify.test_verify import _checks, _person, _synced_account


def test_verify_from_the_page_lists_drift_and_queues_its_repair(
    store: Runtime,  # noqa: F811
    sim_server: SimulatorServer,
    sim: SimulatorState,
) -> None:
    store.settings = store.settings.model_copy(update={"default_max_rps": 500})
    _synced_account(store, sim_server, count=3)
    with SimulatorAdmin(sim_server.base_url) as admin:
        admin.delete_person(SIM_FIRM, _person(store, "person1@example.com"))
    app = open_page("verify")
    assert "This account has not been verified yet." in texts(app)
    assert "Drifted contacts" not in [heading.value for heading in app.subheader]
    next(b for b in app.button if b.label == "Verify now").click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    work_verifications(store, lambda account_id: None, seconds=30)  # the scheduler's job
    app.run()
    shown = texts(app)
    assert "nothing was changed in Clockwork" in shown
    findings = app.dataframe[0].value
    assert list(findings["Contact"]) == ["person1@example.com"]
    assert next(iter(findings["What is wrong"])).startswith("The person is no longer in Clockwork")
    next(b for b in app.button if b.label == "Repair these contacts").click()
    app.run()
    assert [c.status for e, c in sorted(_checks(store).items())] == [
        CheckStatus.OK, CheckStatus.REPAIRED, CheckStatus.OK,
    ]  # fmt: skip

    viewer = open_page("verify", user=VIEWER)
    assert not [b for b in viewer.button if b.label in ("Verify now", "Repair these contacts")]


def test_contacts_filter_drifted_and_the_overview_says_when_last_verified(
    store: Runtime,  # noqa: F811
    sim_server: SimulatorServer,
    sim: SimulatorState,
) -> None:
    store.settings = store.settings.model_copy(update={"default_max_rps": 500})
    account_id = _synced_account(store, sim_server, count=3)
    overview = open_page()
    assert "Last verified against Clockwork: never." in texts(overview)
    with SimulatorAdmin(sim_server.base_url) as admin:
        admin.delete_person(SIM_FIRM, _person(store, "person2@example.com"))
    run = request_verification(store, account_id=account_id, actor="ana")
    advance(store, run.id or 0)

    with store.db.read() as session:
        rows = contact_table.list_enrollments(
            session=session,
            where=contact_table.EnrollmentFilter(account_id=account_id, drifted=True),
        )
    assert [row.email for row in rows] == ["person2@example.com"]
    overview = open_page()
    assert "1 contact drifted (see Verify)" in texts(overview)
    contacts = open_page("contacts", contacts_drifted=True)
    assert len(contacts.dataframe[0].value) == 1


def test_a_run_ending_between_two_refreshes_shows_its_findings_without_rerunning_the_page(
    store: Runtime,  # noqa: F811
    sim_server: SimulatorServer,
    sim: SimulatorState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The refresh that sees the run ended draws the findings itself: a rerun of the whole page
    asked for on that timer could undo a sidebar link clicked meanwhile."""
    store.settings = store.settings.model_copy(update={"default_max_rps": 500})
    _synced_account(store, sim_server, count=3)
    with SimulatorAdmin(sim_server.base_url) as admin:
        admin.delete_person(SIM_FIRM, _person(store, "person1@example.com"))
    app = open_page("verify")
    next(b for b in app.button if b.label == "Verify now").click()
    app.run()
    assert app.get("progress")[0].proto.text.startswith("Waiting for the engine")
    reruns: list[Any] = []
    rerun = st.rerun
    monkeypatch.setattr(st, "rerun", lambda *a, **k: reruns.append(k) or rerun(*a, **k))
    work_verifications(store, lambda account_id: None, seconds=30)

    app.run()

    assert not app.exception, [e.value for e in app.exception]
    assert reruns == []
    assert "nothing was changed in Clockwork" in texts(app)
    assert list(app.dataframe[0].value["Contact"]) == ["person1@example.com"]
    assert "Repair" in [heading.value for heading in app.subheader]

"""Issue 13 items 9 and 10 in the dashboard: a rejected connect keeps what was typed except the
secrets, and a sequence's project is checked with Clockwork before it is saved."""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from clockwork_simulator import SimulatorServer
from dashboard import identity
from dashboard.plain_text import plain
from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from tests.dashboard.conftest import (
    ADMIN,
    by_label,
    call_action,
    login_secrets,
    open_page,
    signed_in,
    texts,
)
from tests.factories import SIM_FIRM, SIM_KEYS, connection_fields, make_sequence


def _submit(app: AppTest, **typed: str) -> None:
    for label, value in typed.items():
        by_label(app.text_input, label).input(value)
    by_label(app.button, "Save and test connection").click().run()


def test_a_rejected_connect_keeps_the_firm_and_base_url_and_empties_the_secrets(
    store: Runtime, simulator: SimulatorServer, account_id: int
) -> None:
    app = open_page("integrations")
    _submit(
        app,
        **{
            "Firm name": SIM_FIRM,
            "API key": SIM_KEYS["api_key"],
            "API secret": "not-the-secret",
            "Firm service key": SIM_KEYS["firm_service_key"],
            "Base URL": simulator.base_url,
        },
    )
    assert "Clockwork rejected the credentials" in texts(app)
    assert by_label(app.text_input, "Firm name").value == SIM_FIRM
    assert by_label(app.text_input, "Base URL").value == simulator.base_url
    for label in ("API key", "API secret", "Firm service key"):
        assert by_label(app.text_input, label).value == ""
    # Corrected, only the secrets typed again: it connects.
    _submit(
        app,
        **{
            "API key": SIM_KEYS["api_key"],
            "API secret": SIM_KEYS["api_secret"],
            "Firm service key": SIM_KEYS["firm_service_key"],
        },
    )
    assert not app.error, [e.value for e in app.error]
    with store.db.read() as session:
        summary = accounts.connection_summary(session=session, account_id=account_id)
    assert summary is not None and summary.state == "connected" and summary.firm == SIM_FIRM
    for label in ("API key", "API secret", "Firm service key"):
        assert by_label(app.text_input, label).value == ""


def _call(handler: str, page: str = "sequences", **arguments: Any) -> AppTest:
    """Run a page's action once (Sequences by default), in a Streamlit run signed in as an admin."""
    app = call_action(f"dashboard.app_pages.{page}", handler, arguments)
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.fixture
def connected(store: Runtime, simulator: SimulatorServer, account_id: int) -> int:
    accounts.connect(
        store, account_id=account_id, fields=connection_fields(simulator.base_url), actor="test"
    )
    return account_id


def test_a_sequence_with_a_project_the_firm_does_not_have_is_not_created(
    store: Runtime, connected: int
) -> None:
    app = _call(
        "create_sequence", account_id=connected, name="VP Eng", disable_sync=False,
        project_id="PROJECT_ID",
    )  # fmt: skip
    assert plain("the Clockwork firm has no project 'PROJECT_ID'") in texts(app)
    with store.db.read() as session:
        assert accounts.list_sequences(session=session, account_id=connected) == []


def test_a_sequences_project_is_checked_before_it_is_saved(
    store: Runtime, connected: int, simulator: SimulatorServer
) -> None:
    sequence_id = make_sequence(store, connected, "VP Eng")
    app = _call("save_syncing", sequence_id=sequence_id, changes={"project_id": "gone-project"})
    assert plain("the Clockwork firm has no project 'gone-project'") in texts(app)
    project = simulator.state.snapshot(SIM_FIRM)["projects"][0]["id"]
    _call("save_syncing", sequence_id=sequence_id, changes={"project_id": project})
    with store.db.read() as session:
        saved = accounts.get_sequence(session=session, sequence_id=sequence_id)
    assert saved.project_id == project


def test_the_default_project_is_checked_before_the_settings_are_saved(
    store: Runtime, connected: int, simulator: SimulatorServer
) -> None:
    app = _call(
        "save_settings", page="sync_settings", account_id=connected,
        changes={"default_project_id": "gone-project"},
    )  # fmt: skip
    assert plain("the Clockwork firm has no project 'gone-project'") in texts(app)
    with store.db.read() as session:
        assert (
            accounts.get_settings(session=session, account_id=connected).default_project_id is None
        )


def test_a_store_that_refuses_writes_is_a_message_not_a_traceback(
    store: Runtime, account_id: int, sqlite_url: str
) -> None:
    path = sqlite_url.removeprefix("sqlite:///")

    def script(account_id, path):  # type: ignore[no-untyped-def]  # runs as a script
        import streamlit as st

        from dashboard import process
        from dashboard.app_pages import sync_settings
        from sync_engine.db import Database

        process.runtime().db = Database(f"sqlite:///file:{path}?mode=ro&uri=true")
        if not st.session_state.get("_called"):
            st.session_state["_called"] = True
            sync_settings.save_settings(account_id, {"activity_tracking": False})

    app = AppTest.from_function(script, args=(account_id, path), default_timeout=30)
    app.secrets.update(login_secrets())
    app.session_state[identity.USER_KEY] = signed_in(ADMIN)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert "attempt to write a readonly database" in texts(app)

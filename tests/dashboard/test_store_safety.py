"""The dashboard and the store it opens (issue 12, items 1-3, through AppTest): demo mode refuses
a customer's store and any address but loopback; with the wrong key every page still renders and
the affected connection says to re-enter the credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from streamlit import config as st_config

from clockwork_simulator import SimulatorServer
from dashboard import demo_mode
from sync_engine.models import ConnectionState
from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from tests.dashboard.conftest import by_label, new_app, open_page, texts
from tests.factories import connection_fields, enroll, make_sequence

PAGES = (
    "overview", "contacts", "activity", "sync_log", "audit_log", "integrations",
    "sync_settings", "sequences",
)  # fmt: skip


def _customer(store: Runtime, simulator: SimulatorServer) -> int:
    """A customer account with a contact, connected to a firm and then disconnected."""
    with store.db.write() as session:
        account = accounts.create_account(session=session, name="Real Corp", actor="staff")
    assert account.id is not None
    accounts.connect(
        store, account_id=account.id, fields=connection_fields(simulator.base_url), actor="staff"
    )
    enroll(store, make_sequence(store, account.id), "ceo@realcorp.example")
    with store.db.write() as session:
        accounts.disconnect(session=session, account_id=account.id, actor="x")
    return account.id


def test_demo_mode_refuses_a_customer_store_after_its_firm_was_disconnected(
    store: Runtime, simulator: SimulatorServer, demo_env: Path
) -> None:
    _customer(store, simulator)

    app = new_app(user=None, secrets={})
    app.run()

    assert not app.exception
    assert [e.value for e in app.error] == [
        "Demo mode refuses to open this store: it was not created as a demo store, and demo mode "
        "has no login and seeds and resets data. Set CWSYNC_DEMO=false and configure a login to "
        "use this store, or point CWSYNC_DATA_DIR (or CWSYNC_DATABASE_URL) at a separate store "
        "for demos."
    ]
    assert "realcorp" not in texts(app) and not app.dataframe
    assert not demo_env.with_suffix(".port").exists()  # the embedded simulator never started


@pytest.mark.parametrize("address", [None, "", "0.0.0.0", "::", "192.0.2.10"])
def test_demo_mode_refuses_to_serve_beyond_loopback(
    store: Runtime, demo_env: Path, address: str | None
) -> None:
    st_config.set_option("server.address", address)

    app = new_app(user=None, secrets={})
    app.run()

    assert not app.exception
    assert len(app.error) == 1 and app.error[0].value.startswith("Demo mode refuses to serve on")
    assert "cwsync dashboard" in app.error[0].value
    assert not demo_env.with_suffix(".port").exists()


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_addresses_count_as_loopback(address: str) -> None:
    assert demo_mode.served_on_loopback(address)


def test_outside_demo_mode_any_address_is_allowed_behind_the_login(store: Runtime) -> None:
    st_config.set_option("server.address", "0.0.0.0")
    app = new_app(user=None)
    app.run()
    assert not app.exception
    assert by_label(app.button, "Sign in")


def test_with_the_wrong_key_every_page_renders_and_the_connection_needs_attention(
    store: Runtime, simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with store.db.write() as session:
        account = accounts.create_account(session=session, name="Acme", actor="staff")
    assert account.id is not None
    accounts.connect(
        store, account_id=account.id, fields=connection_fields(simulator.base_url), actor="staff"
    )
    sequence_id = make_sequence(store, account.id)
    enroll(store, sequence_id, "ada@example.com")
    monkeypatch.setenv("CWSYNC_ENCRYPTION_KEY", Fernet.generate_key().decode())  # the wrong one

    for page in PAGES:
        app = open_page(page)  # asserts no exception
        assert "need attention — re-enter the credentials" in texts(app), page
    app = open_page("integrations")
    assert "Needs attention" in texts(app)
    assert "Re-enter the credentials: the encryption key from CWSYNC_ENCRYPTION_KEY" in texts(app)
    with store.db.read() as session:
        summary = accounts.connection_summary(session=session, account_id=account.id)
    assert summary is not None and summary.state == ConnectionState.NEEDS_ATTENTION
    app = open_page("sync_settings")  # the project picker says why it has no projects
    assert "is not the key this store's credentials were encrypted with" in texts(app)

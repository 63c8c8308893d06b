"""What the dashboard must never do: send a stored credential to the browser, export one, or run
the demo on a store that holds a real firm's credentials."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlmodel import select

from clockwork_simulator import SimulatorServer
from dashboard import demo_mode
from sync_engine.crypto import mask
from sync_engine.demo import claim_demo_store
from sync_engine.models import ClockworkConnection
from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from sync_engine.services.queries import contact_table, csv_export
from tests.dashboard.conftest import (
    VIEWER,
    by_label,
    new_app,
    open_page,
    password_hash,
    sent_to_browser,
    texts,
)
from tests.factories import (
    SIM_KEYS,
    connection_fields,
    enroll,
    make_account,
    make_connected_account,
    make_sequence,
    set_enrollment,
)

SECRETS = [value.encode() for value in SIM_KEYS.values()]
ADMIN_PAGES = [
    "overview", "contacts", "activity", "sync_log", "integrations", "sync_settings", "sequences",
    "audit_log",
]  # fmt: skip
VIEWER_PAGES = ["overview", "contacts", "activity", "sync_log", "audit_log"]


def _assert_no_secret(app: object, where: str) -> None:
    sent = sent_to_browser(app)  # type: ignore[arg-type]
    assert sent, f"{where}: nothing rendered"
    for secret in [*SECRETS, password_hash().encode()]:
        assert secret not in sent, f"{where} sent {secret.decode()!r} to the browser"


@pytest.fixture
def connected_through_the_page(store: Runtime, simulator: SimulatorServer) -> int:
    """An account connected by typing its keys into the Integrations page, with contacts."""
    account_id = make_account(store)
    app = open_page("integrations")
    fields = connection_fields(base_url=simulator.base_url)
    for label, name in (
        ("Firm name", "firm"), ("API key", "api_key"), ("API secret", "api_secret"),
        ("Firm service key", "firm_service_key"), ("Base URL", "base_url"),
    ):  # fmt: skip
        by_label(app.text_input, label).input(fields[name])
    by_label(app.button, "Save and test connection").click().run()
    assert not app.exception and not app.error
    _assert_no_secret(app, "the run that saved the credentials")
    sequence_id = make_sequence(store, account_id, "VP Engineering")
    synced = enroll(store, sequence_id, "grace@northwind.com", first_name="Grace")
    enroll(store, sequence_id, "ada@lovelace.com")
    set_enrollment(store, synced, status="synced", link="created", clockwork_person_id="person-1")
    return account_id


def test_no_page_ever_sends_a_stored_credential_to_the_browser(
    store: Runtime, connected_through_the_page: int
) -> None:
    for page in ADMIN_PAGES:
        _assert_no_secret(open_page(page), page)
    for page in VIEWER_PAGES:
        _assert_no_secret(open_page(page, user=VIEWER), f"{page} (viewer)")

    app = new_app()
    app.run()
    app.switch_page("app_pages/contacts.py")
    app.query_params["enrollment"] = "1"
    app.run()
    assert "Timeline" in texts(app)
    _assert_no_secret(app, "the contact detail")

    app = open_page("integrations")
    by_label(app.button, "Test connection").click().run()
    assert "Clockwork accepted the credentials." in texts(app)
    _assert_no_secret(app, "the connection test")


def test_the_connection_is_shown_masked(store: Runtime, connected_through_the_page: int) -> None:
    app = open_page("integrations")
    shown = texts(app)
    assert f"`{mask(SIM_KEYS['api_key'])}`" in shown  # the API key's hint, nothing more
    for label in ("API key", "API secret", "Firm service key"):
        field = by_label(app.text_input, label)
        assert field.proto.type == field.proto.PASSWORD and field.proto.default == ""


def test_the_csv_export_has_no_credential_column_or_value(
    store: Runtime, connected_through_the_page: int
) -> None:
    credential_words = ("key", "secret", "token", "password", "credential", "hint")
    assert not [
        c for c in csv_export.EXPORT_COLUMNS if any(w in c.lower() for w in credential_words)
    ]
    where = contact_table.EnrollmentFilter(account_id=connected_through_the_page)
    with store.db.read() as session:
        exported = "".join(csv_export.export_enrollments_csv(session=session, where=where))
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == list(csv_export.EXPORT_COLUMNS) and len(rows) == 3
    for secret in SIM_KEYS.values():
        assert secret not in exported


# --- demo mode and real credentials ---------------------------------------------------------


def test_demo_mode_refuses_to_start_on_a_store_with_a_real_firm(
    store: Runtime, simulator: SimulatorServer, demo_env: Path
) -> None:
    claim_demo_store(store)  # even a demo store (a store that is not one: tests/demo/test_store.py)
    make_connected_account(store, "Real Customer", base_url=simulator.base_url)
    with store.db.write() as session:  # as if it had been connected to the real Clockwork
        row = session.exec(select(ClockworkConnection)).one()
        row.base_url = "https://api.clockworkrecruiting.com"
        session.add(row)

    app = new_app(user=None, secrets={"unrelated": {"x": "1"}})
    app.run()

    assert not app.exception
    assert [e.value for e in app.error] == [
        "Demo mode refuses to start: this store holds credentials for a real Clockwork firm "
        "(Real Customer (https://api.clockworkrecruiting.com)). The demo needs no login and "
        "seeds and resets data. Set CWSYNC_DEMO=false and configure a login to use this store, "
        "or point CWSYNC_DATABASE_URL at a separate store for demos."
    ]
    assert not app.dataframe and not app.metric
    assert not demo_env.with_suffix(".port").exists()  # the embedded simulator never started


def test_demo_mode_connects_only_to_a_simulator_on_this_machine(
    store: Runtime, demo_env: Path
) -> None:
    app = open_page("integrations", user=None)
    environment = demo_mode.demo()
    try:
        assert environment is not None
        by_label(app.text_input, "Account name").input("Demo Customer")
        by_label(app.button, "Create account").click().run()
        for label, value in (
            ("Firm name", "acme"), ("API key", "real-key"), ("API secret", "real-secret"),
            ("Firm service key", "real-fsk"), ("Base URL", "https://api.clockworkrecruiting.com"),
        ):  # fmt: skip
            by_label(app.text_input, label).input(value)
        by_label(app.button, "Save and test connection").click().run()
        assert "Demo mode connects only to a Clockwork simulator on this machine" in texts(app)
        with store.db.read() as session:
            demo_customer = accounts.get_account(session=session, ref="Demo Customer")
            assert demo_customer.id is not None
            assert accounts.connection_summary(session=session, account_id=demo_customer.id) is None
    finally:
        if environment is not None:
            environment.simulator.stop()

"""Each page's wiring, through Streamlit's AppTest: it renders from the store, and its controls
call the service layer as the signed-in admin (no scheduler, no demo: see ``conftest.py``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from clockwork_simulator import SimulatorServer
from dashboard import demo_mode
from dashboard.plain_text import plain
from sync_engine import audit
from sync_engine.audit import list_entries
from sync_engine.ingest.models import IngestDelivery
from sync_engine.models import ApiCall, EngineRun, Enrollment
from sync_engine.runtime import Runtime
from sync_engine.services import accounts, events
from sync_engine.services.queries import contact_table
from tests.dashboard.conftest import ADMIN, by_label, new_app, open_page, texts
from tests.factories import (
    SIM_FIRM,
    connection_fields,
    enroll,
    make_account,
    make_connected_account,
    make_sequence,
    set_enrollment,
)


@pytest.fixture
def connected(store: Runtime, simulator: SimulatorServer) -> dict[str, Any]:
    """An account connected to the live simulator, a sequence and three enrollments."""
    account_id = make_connected_account(store, base_url=simulator.base_url)
    sequence_id = make_sequence(store, account_id, "VP Engineering")
    ids = [
        enroll(store, sequence_id, "grace@northwind.com", first_name="Grace", last_name="Hopper"),
        enroll(store, sequence_id, "ada@lovelace.com", first_name="Ada", last_name="Lovelace"),
        enroll(store, sequence_id, "ken@wingtip.com", first_name="Ken", last_name="Thompson"),
    ]
    set_enrollment(store, ids[1], status="failed", reason="validation_error", next_attempt_at=None)
    set_enrollment(
        store, ids[0], status="synced", link="linked", exists_in_clockwork=True,
        clockwork_person_id="person-1", next_attempt_at=None,
    )  # fmt: skip
    return {"account_id": account_id, "sequence_id": sequence_id, "ids": ids}


# --- Sidebar --------------------------------------------------------------------------------


@pytest.mark.parametrize("then", ["overview", "contacts", "sync_log", "alerts"])
def test_the_account_chosen_in_the_sidebar_stays_chosen_on_the_next_page(
    store: Runtime, then: str
) -> None:
    first = make_account(store, "Alpha Talent")
    chosen = make_account(store, "Beta Search")
    enroll(store, make_sequence(store, first), "ada@example.com")
    app = open_page("integrations")
    app.sidebar.selectbox(key="_account_select").set_value(chosen).run()
    app.switch_page(f"app_pages/{then}.py")
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.sidebar.selectbox(key="_account_select").value == chosen  # not back to the first


# --- Overview -------------------------------------------------------------------------------


def test_overview_lists_accounts_and_counts_enrollments_by_status(store: Runtime) -> None:
    account_id = make_account(store)
    enroll(store, make_sequence(store, account_id), "ada@example.com")

    app = open_page()

    assert list(app.dataframe[0].value["Account"]) == ["Acme Talent"]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Skipped"] == "1"  # added while not connected


def test_overview_puts_the_failing_account_first_with_its_reasons(
    store: Runtime, connected: dict[str, Any]
) -> None:
    make_account(store, "Aardvark Search")
    with store.db.write() as session:
        session.add(EngineRun(started_at=store.clock(), trigger="scheduler", worker="w", counts={}))
    app = open_page(account_id=connected["account_id"])
    accounts_table = app.dataframe[0].value
    assert list(accounts_table["Account"]) == ["Acme Talent", "Aardvark Search"]
    assert accounts_table["Needs attention"][0] == "1 failed"
    assert accounts_table["Exists in Clockwork"][0] == 1
    reasons = app.dataframe[1].value
    assert list(reasons["Action"]) == ["Fix the contact, then Retry"]
    assert {m.label for m in app.metric} >= {"Last engine pass", "Scheduler heartbeat"}


def test_overview_without_accounts_says_so(store: Runtime) -> None:
    app = open_page()
    assert "No accounts yet" in texts(app)


# --- Contacts -------------------------------------------------------------------------------


def test_contacts_lists_enrollments_with_flag_link_and_action(
    store: Runtime, connected: dict[str, Any]
) -> None:
    app = open_page("contacts")
    table = app.dataframe[0].value
    assert list(table["Email"]) == ["ken@wingtip.com", "ada@lovelace.com", "grace@northwind.com"]
    grace = table[table["Email"] == "grace@northwind.com"].iloc[0]
    assert bool(grace["Exists in Clockwork"])
    # Connected to the simulator on loopback: the link opens its read-only person page.
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:\d+/people/{SIM_FIRM}/person-1", grace["Clockwork person"]
    )
    ada = table[table["Email"] == "ada@lovelace.com"].iloc[0]
    assert ada["Action"] == "Fix the contact, then Retry"


def test_contacts_filters_by_status_and_search(store: Runtime, connected: dict[str, Any]) -> None:
    app = open_page("contacts")
    app.multiselect(key="contacts_status").select("failed").run()
    assert list(app.dataframe[0].value["Email"]) == ["ada@lovelace.com"]
    app.multiselect(key="contacts_status").unselect("failed").run()
    app.text_input(key="contacts_search").input("thomp").run()
    assert list(app.dataframe[0].value["Email"]) == ["ken@wingtip.com"]
    app.text_input(key="contacts_search").input("nobody").run()
    assert app.dataframe[0].value.empty
    assert "Nothing matches." in texts(app)


def test_contacts_filters_by_the_exists_in_clockwork_flag(
    store: Runtime, connected: dict[str, Any]
) -> None:
    app = open_page("contacts")
    app.selectbox(key="contacts_flag").select("Exists in Clockwork").run()
    assert list(app.dataframe[0].value["Email"]) == ["grace@northwind.com"]


def test_retry_all_failed_requeues_them_under_the_acting_user(
    store: Runtime, connected: dict[str, Any]
) -> None:
    app = open_page("contacts")
    by_label(app.button, "Retry all failed (1)").click().run()
    assert not app.exception
    with store.db.read() as session:
        retried = session.get(Enrollment, connected["ids"][1])
        entries = list_entries(session=session, account_id=connected["account_id"])
    assert retried is not None and retried.status == "queued"
    assert any(e.actor == ADMIN and e.entity == "enrollment" for e in entries)


def test_contact_detail_shows_the_timeline_from_a_link(
    store: Runtime, connected: dict[str, Any]
) -> None:
    app = new_app()
    app.run()
    app.switch_page("app_pages/contacts.py")
    app.query_params["enrollment"] = str(connected["ids"][0])
    app.run()
    assert not app.exception
    shown = texts(app)
    assert "Exists in Clockwork" in shown and "Timeline" in shown
    timeline = app.dataframe[1].value
    assert list(timeline["Event"])[:2] == ["Added", "Decision when added"]


def _open_detail(enrollment_id: int) -> Any:
    app = new_app()
    app.run()
    app.switch_page("app_pages/contacts.py")
    app.query_params["enrollment"] = str(enrollment_id)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_a_refused_contact_shows_no_http_text_code_or_id_outside_technical_details(
    store: Runtime, connected: dict[str, Any]
) -> None:
    failed = connected["ids"][1]
    error = (
        "POST /people/{id}/linkedin_urls -> HTTP 422: Validation failed: url is not a LinkedIn URL"
    )
    with store.db.write() as session:
        enrollment = session.get(Enrollment, failed)
        assert enrollment is not None
        enrollment.last_error, enrollment.attempts = error, 1
        enrollment.project_id = "0b8f5a9e-6c1d-4c3e-9a51-2f9e1c7d4a10"  # not the firm's
        session.add(enrollment)
    app = _open_detail(failed)
    shown = _shown_values(app)
    assert not RAW.search(shown), RAW.findall(shown)
    assert "Clockwork refused the contact's data" in shown
    technical = next(e for e in app.expander if e.label == "Technical details")
    assert any(error in str(text.value) for text in technical.text)


def test_a_contact_awaiting_a_reply_says_it_joins_the_sequences_project_then(
    store: Runtime, simulator: SimulatorServer, connected: dict[str, Any]
) -> None:
    project = simulator.state.snapshot(SIM_FIRM)["projects"][0]
    with store.db.write() as session:
        accounts.update_settings(
            session=session, account_id=connected["account_id"],
            changes={"sync_mode": "on_reply"}, actor="test",
        )  # fmt: skip
        accounts.update_sequence(
            session=session, sequence_id=connected["sequence_id"],
            changes={"project_id": project["id"]}, actor="test",
        )  # fmt: skip
    waiting = enroll(store, connected["sequence_id"], "kay@example.com")
    shown = texts(_open_detail(waiting))
    assert "none (person only)" not in shown
    assert (
        f"Project: decided when they reply: the sequence's project then (now {project['name']})"
        in shown
    )


def test_csv_export_button_is_offered_for_the_filtered_rows(
    store: Runtime, connected: dict[str, Any]
) -> None:
    app = open_page("contacts")
    labels = [button.label for button in app.button if button.label.startswith("Export")]
    assert labels == ["Export 3 as CSV"]


# --- Integrations ---------------------------------------------------------------------------


def _connect_form(app: Any, **values: str) -> None:
    for label, value in values.items():
        by_label(app.text_input, label).input(value)
    by_label(app.button, "Save and test connection").click().run()


def test_integrations_creates_an_account(store: Runtime) -> None:
    app = open_page("integrations")
    by_label(app.text_input, "Account name").input("Globex Search")
    by_label(app.button, "Create account").click().run()
    with store.db.read() as session:
        names = [a.name for a in accounts.list_accounts(session=session)]
        entries = audit.list_entries(session=session)
    assert names == ["Globex Search"]
    assert entries[0].actor == ADMIN


def test_connecting_stores_masked_credentials_and_clears_the_secret_fields(
    store: Runtime, simulator: SimulatorServer
) -> None:
    account_id = make_account(store)
    app = open_page("integrations")
    fields = connection_fields(base_url=simulator.base_url)
    _connect_form(
        app,
        **{
            "Firm name": fields["firm"],
            "API key": fields["api_key"],
            "API secret": fields["api_secret"],
            "Firm service key": fields["firm_service_key"],
            "Base URL": fields["base_url"],
        },
    )
    assert not app.exception and not app.error
    with store.db.read() as session:
        summary = accounts.connection_summary(session=session, account_id=account_id)
    assert summary is not None and summary.state == "connected"
    for label in ("API key", "API secret", "Firm service key"):
        secret_input = by_label(app.text_input, label)
        assert secret_input.proto.type == secret_input.proto.PASSWORD
        assert secret_input.proto.default == ""  # the server never sends a secret back
    page = texts(app)
    for secret in (fields["api_key"], fields["api_secret"], fields["firm_service_key"]):
        assert secret not in page
    assert "Connected" in page


def test_rejected_credentials_are_reported_and_nothing_is_stored(
    store: Runtime, simulator: SimulatorServer
) -> None:
    account_id = make_account(store)
    app = open_page("integrations")
    _connect_form(
        app,
        **{
            "Firm name": SIM_FIRM,
            "API key": "wrong",
            "API secret": "wrong",
            "Firm service key": "wrong",
            "Base URL": simulator.base_url,
        },
    )
    assert "Clockwork rejected the credentials" in texts(app)
    with store.db.read() as session:
        assert accounts.connection_summary(session=session, account_id=account_id) is None


def test_integrations_tests_pauses_and_disconnects(
    store: Runtime, connected: dict[str, Any]
) -> None:
    app = open_page("integrations")
    by_label(app.button, "Test connection").click().run()
    assert "Clockwork accepted the credentials." in texts(app)
    by_label(app.button, "Pause syncing").click().run()
    assert "Syncing is paused" in texts(app)
    by_label(app.button, "Yes, disconnect").click().run()
    with store.db.read() as session:
        summary = accounts.connection_summary(session=session, account_id=connected["account_id"])
        account = accounts.get_account(session=session, ref=connected["account_id"])
    assert summary is not None and summary.state == "disconnected"
    assert account.sync_paused


# --- Sync settings --------------------------------------------------------------------------


def test_sync_settings_preview_then_save_audited(store: Runtime, connected: dict[str, Any]) -> None:
    account_id = connected["account_id"]
    app = open_page("sync_settings")
    assert "No unsaved changes." in texts(app)
    app.radio(key=f"settings_{account_id}_mode").set_value("on_reply").run()
    preview = plain("Contacts added from now on will sync only when they reply.")
    assert preview in texts(app)
    app.toggle(key=f"settings_{account_id}_tracking").set_value(False).run()
    by_label(app.button, "Save changes").click().run()
    with store.db.read() as session:
        settings = accounts.get_settings(session=session, account_id=account_id)
        entries = audit.list_entries(session=session, account_id=account_id)
    assert settings.sync_mode == "on_reply" and settings.activity_tracking is False
    changed = {(e.field, e.actor) for e in entries}
    assert {("sync_mode", ADMIN), ("activity_tracking", ADMIN)} <= changed


def test_deduplication_caption_and_tooltip_tell_one_story(
    store: Runtime, connected: dict[str, Any]
) -> None:
    app = open_page("sync_settings")
    toggle = by_label(app.toggle, "Deduplication")
    caption = next(c.value for c in app.caption if "Deduplication adds the flag" in c.value)
    # Matching by email prevents duplicates either way; the setting adds only the flag. The
    # caption used to say deduplication links "instead of being created again".
    assert "instead of being created again" not in caption
    assert "On or off" in caption and "never created again" in caption
    assert "Exists in Clockwork" in toggle.help and "either way" not in toggle.help


def test_default_project_is_chosen_from_the_firms_projects(
    store: Runtime, connected: dict[str, Any], simulator: SimulatorServer
) -> None:
    account_id = connected["account_id"]
    project = simulator.state.snapshot(SIM_FIRM)["projects"][0]
    app = open_page("sync_settings")
    picker = app.selectbox(key=f"settings_{account_id}_project")
    assert picker.value is None or picker.value == ""
    picker.set_value(project["id"]).run()
    assert "New contacts in sequences without their own project" in texts(app)
    by_label(app.button, "Save changes").click().run()
    with store.db.read() as session:
        settings = accounts.get_settings(session=session, account_id=account_id)
    assert settings.default_project_id == project["id"]


# --- Sequences ------------------------------------------------------------------------------


def test_sequences_mark_disabled_sync_and_save_the_syncing_tab(
    store: Runtime, connected: dict[str, Any]
) -> None:
    account_id = connected["account_id"]
    make_sequence(store, account_id, "Newsletter", disable_sync=True)
    app = open_page("sequences")
    table = app.dataframe[0].value
    assert dict(zip(table["Sequence"], table["Sync"], strict=True)) == {
        "Newsletter": "⊘ Sync disabled",
        "VP Engineering": "✓ Syncing",
    }
    app.selectbox(key=f"sequence_pick_{account_id}").set_value(connected["sequence_id"]).run()
    app.toggle(key=f"sequence_{connected['sequence_id']}_disable").set_value(True).run()
    preview = plain("Contacts added from now on will never sync, even if they reply.")
    assert preview in texts(app)
    by_label(app.button, "Save Syncing settings").click().run()
    with store.db.read() as session:
        sequence = accounts.get_sequence(session=session, sequence_id=connected["sequence_id"])
    assert sequence.disable_sync


def test_a_created_sequence_is_the_one_whose_settings_show(
    store: Runtime, connected: dict[str, Any]
) -> None:
    account_id = connected["account_id"]
    app = open_page("sequences")  # "VP Engineering" is chosen: the account's only sequence
    by_label(app.text_input, "Name").input("Head of Product")
    by_label(app.button, "Create sequence").click().run()
    assert not app.exception, [e.value for e in app.exception]
    picker = app.selectbox(key=f"sequence_pick_{account_id}")
    with store.db.read() as session:
        created = [
            s.id
            for s in accounts.list_sequences(session=session, account_id=account_id)
            if s.name == "Head of Product"
        ]
    assert picker.value == created[0], picker.value  # its settings, not another sequence's


# --- Activity, Sync log, Audit log ----------------------------------------------------------


def test_activity_page_lists_events(store: Runtime, connected: dict[str, Any]) -> None:
    with store.db.write() as session:
        events.record_event(
            session=session, enrollment_id=connected["ids"][0], kind="opened", at=None,
            subject="Intro",
        )  # fmt: skip
    app = open_page("activity")
    table = app.dataframe[0].value
    assert list(table["Event"]) == ["Opened"] and list(table["Contact"]) == ["grace@northwind.com"]


def test_sync_log_groups_errors_and_lists_runs_and_calls(
    store: Runtime, connected: dict[str, Any]
) -> None:
    with store.db.write() as session:
        session.add(EngineRun(started_at=store.clock(), trigger="manual", worker="w",
                              counts={"claimed": 2, "synced": 2}))  # fmt: skip
        session.add(ApiCall(account_id=connected["account_id"], at=store.clock(), method="GET",
                            path="/people/search", status=429, latency_ms=12.0,
                            error="rate limited"))  # fmt: skip
        session.add(ApiCall(account_id=connected["account_id"], at=store.clock(), method="POST",
                            path="/people/{id}/linkedin_urls", status=422, latency_ms=9.0,
                            error="Validation failed: url is not a LinkedIn URL"))  # fmt: skip
    app = open_page("sync_log")
    frames = {tuple(frame.value.columns): frame.value for frame in app.dataframe}
    errors = frames["Status", "Reason", "Contacts", "What to do"]
    runs = frames["Started", "Trigger", "Duration (s)", "Counts", "Error"]
    calls = frames["At", "Request", "Answer", "Latency (ms)", "Clockwork said"]
    assert list(errors["Reason"]) == ["Clockwork refused the contact's data"]
    assert list(runs["Trigger"]) == ["Run by hand"]
    assert list(runs["Counts"]) == ["2 taken from the queue, 2 synced"]
    assert list(calls["Request"]) == ["Add a LinkedIn URL to a person", "GET /people/search"]
    assert list(calls["Answer"]) == ["Refused the data", "Asked us to slow down"]
    # The codes, paths and workers are one click away, in Technical details.
    assert list(frames["Reason", "Status code", "Reason code"]["Reason code"]) == [
        "validation_error"
    ]
    assert "w" in list(frames["Started (UTC)", "Trigger", "Worker", "Counts", "Error"]["Worker"])


def _shown_values(app: Any, *, without: tuple[str, ...] = ("Technical details",)) -> str:
    """Every text and table cell of the page outside the expanders labelled ``without``."""
    hidden = {id(frame) for e in app.expander if e.label in without for frame in e.dataframe}
    hidden_text = {
        id(el) for e in app.expander if e.label in without for el in (*e.caption, *e.text)
    }
    parts = [texts(app)] if not hidden_text else [
        str(el.value) for group in (app.markdown, app.caption, app.text, app.info, app.success,
                                    app.warning, app.error) for el in group
        if id(el) not in hidden_text
    ]  # fmt: skip
    parts += [m.label + " " + str(m.value) for m in app.metric]
    for frame in app.dataframe:
        if id(frame) not in hidden:
            parts.append(frame.value.to_csv())
    return "\n".join(parts)


RAW = re.compile(
    r"HTTP [45]\d\d|POST /|GET /|sequence_sync_disabled|validation_error|activity_tracking"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|cli:|enrollment \d|\d enrollments"
)


def test_the_sync_log_shows_no_raw_codes_paths_or_workers(
    store: Runtime, connected: dict[str, Any]
) -> None:
    with store.db.write() as session:
        session.add(ApiCall(account_id=connected["account_id"], at=store.clock(), method="POST",
                            path="/people/{id}/linkedin_urls", status=422, latency_ms=9.0,
                            error="Validation failed: url is not a LinkedIn URL"))  # fmt: skip
        session.add(EngineRun(started_at=store.clock(), trigger="scheduler", worker="vm:7867",
                              counts={"claimed": 1, "failed": 1}))  # fmt: skip
    shown = _shown_values(open_page("sync_log"))
    assert not RAW.search(shown), RAW.findall(shown)
    assert "vm:7867" not in shown


def test_the_audit_log_names_people_fields_and_projects_in_words(
    store: Runtime, connected: dict[str, Any]
) -> None:
    project = "0b8f5a9e-6c1d-4c3e-9a51-2f9e1c7d4a10"
    with store.db.write() as session:
        accounts.update_settings(
            session=session, account_id=connected["account_id"],
            changes={"activity_tracking": False, "default_project_id": project},
            actor="cli:root",
        )  # fmt: skip
    app = open_page("audit_log")
    shown = _shown_values(app)
    assert not RAW.search(shown), RAW.findall(shown)
    audit_table = app.dataframe[0].value
    assert "root (command line)" in set(audit_table["Who"])
    assert "Activity tracking" in set(audit_table["Field"])
    technical = next(e for e in app.expander if e.label == "Technical details")
    assert "activity_tracking" in set(technical.dataframe[0].value["Field"])


def test_audit_log_shows_who_changed_what(store: Runtime, connected: dict[str, Any]) -> None:
    app = open_page("audit_log")
    table = app.dataframe[0].value
    assert "Connection" in set(table["Changed"])
    assert set(table["Who"]) == {"test"}
    assert not any("nw-api-key-0001" in str(value) for value in table["New"])


ZONED = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (UTC|[A-Z]{2,5}|UTC[+-]\d\d:\d\d)")


def test_every_time_on_the_log_pages_names_its_zone(
    store: Runtime, connected: dict[str, Any]
) -> None:
    """Without a browser (AppTest) the zone is UTC, and the sidebar says why; each timestamp of
    the tables ends with it. Before, they read "2026-11-02 09:00:00", zone unknown."""
    with store.db.write() as session:
        events.record_event(
            session=session, enrollment_id=connected["ids"][0], kind="opened", at=None,
            subject="Intro",
        )  # fmt: skip
        session.add(EngineRun(started_at=store.clock(), trigger="scheduler", worker="w",
                              counts={"claimed": 1}))  # fmt: skip
        session.add(ApiCall(account_id=connected["account_id"], at=store.clock(), method="GET",
                            path="/people_search", status=200, latency_ms=5.0))  # fmt: skip
    seen = 0
    for page in ("activity", "audit_log", "sync_log"):
        app = open_page(page)
        assert "Times are in UTC: your browser did not tell its timezone." in [
            c.value for c in app.sidebar.caption
        ]
        for frame in (f.value for f in app.dataframe):
            for column in ("When", "At", "Started"):
                if column in frame.columns:
                    values = [str(v) for v in frame[column]]
                    assert values and all(ZONED.fullmatch(v) for v in values), (page, values)
                    seen += len(values)
    assert seen >= 4


def test_one_account_is_not_counted_in_the_plural(store: Runtime) -> None:
    make_account(store)
    assert "The account is healthy." in texts(open_page())


def test_demo_controls_are_not_offered_outside_demo_mode(store: Runtime) -> None:
    app = open_page()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("app_pages/demo_controls.py")


@pytest.fixture
def demo_store(store: Runtime, demo_env: Path) -> Iterator[Runtime]:
    """The dashboard in demo mode (embedded simulator, seeded store), scheduler still off."""
    yield store
    environment = demo_mode.demo()
    if environment is not None:
        environment.simulator.stop()


def test_demo_mode_seeds_accounts_and_adds_a_contact_already_in_clockwork(
    demo_store: Runtime,
) -> None:
    app = open_page("demo_controls")
    with demo_store.db.read() as session:
        names = [account.name for account in accounts.list_accounts(session=session)]
    assert "Acme Talent" in names and "Globex Search" in names
    by_label(app.text_input, "Email").input("new.person@northwind-traders.com")
    by_label(app.text_input, "First name").input("New")
    by_label(app.text_input, "Last name").input("Person")
    by_label(app.checkbox, "A recruiter already entered this person in Clockwork").check()
    by_label(app.button, "Add to sequence").click().run()
    assert not app.exception and not app.error
    environment = demo_mode.demo()
    assert environment is not None
    people = environment.simulator.state.snapshot("demo")["people"]
    assert "New Person" in {person["name"] for person in people}
    with demo_store.db.read() as session:
        rows = contact_table.list_enrollments(
            session=session,
            where=contact_table.EnrollmentFilter(account_id=1, search="new.person@"),
        )
    assert [row.status for row in rows] == ["queued"]
    with demo_store.db.read() as session:  # through the demo's ingest API, as a platform would
        routes = session.exec(select(IngestDelivery.route, IngestDelivery.outcome)).all()
    assert [(route.rsplit("/", 2)[-2:], outcome) for route, outcome in routes] == [
        (["contacts", "batch"], "accepted")
    ]


def test_demo_faults_speak_of_clockwork_not_of_http_codes(demo_store: Runtime) -> None:
    app = open_page("demo_controls")
    app.toggle[0].set_value(True)  # the rate limit
    by_label(app.button, "Apply faults").click().run()
    assert not app.exception and not app.error
    labels = [w.label for group in (app.toggle, app.slider) for w in group]
    shown = " ".join([*labels, texts(app)])
    assert "In force:" in shown and "requests per second" in shown, shown
    assert not re.search(r"\b[45]\d\d\b|\b[45]xx\b", shown), shown  # e.g. 429, 5xx


# --- Beyond the seed: B2 review, B3 re-sync, B4 backfill ------------------------------------


def test_link_by_linkedin_is_previewed_and_saved(store: Runtime, connected: dict[str, Any]) -> None:
    account_id = connected["account_id"]
    app = open_page("sync_settings")
    app.toggle(key=f"settings_{account_id}_linkedin").set_value(True).run()
    assert "same LinkedIn profile" in texts(app)
    by_label(app.button, "Save changes").click().run()
    with store.db.read() as session:
        assert accounts.get_settings(session=session, account_id=account_id).link_by_linkedin


def test_an_ambiguous_linkedin_match_is_resolved_from_the_contact(
    store: Runtime, connected: dict[str, Any]
) -> None:
    enrollment_id = connected["ids"][2]
    with store.db.write() as session:
        enrollment = session.get(Enrollment, enrollment_id)
        assert enrollment is not None
        enrollment.status, enrollment.reason = "needs_review", "ambiguous_linkedin_match"
        enrollment.review_candidates = [
            {"id": "p-a", "name": "Ken T.", "emails": ["k@a.com"], "position": None},
            {"id": "p-b", "name": "Ken Thompson", "emails": [], "position": "CTO at Bell"},
        ]
        session.add(enrollment)
    app = open_page("contacts")
    app.query_params["enrollment"] = str(enrollment_id)
    app.run()
    app.radio(key=f"review_{enrollment_id}").set_value("p-b").run()
    by_label(app.button, "Use this choice").click().run()
    assert not app.exception
    with store.db.read() as session:
        enrollment = session.get(Enrollment, enrollment_id)
    assert enrollment is not None
    assert (enrollment.status, enrollment.review_choice) == ("queued", "p-b")


def test_resync_to_project_is_previewed_then_applied(
    store: Runtime, connected: dict[str, Any], simulator: SimulatorServer
) -> None:
    project = simulator.state.snapshot(SIM_FIRM)["projects"][0]
    person = simulator.state.seed_person(SIM_FIRM, first_name="Grace", last_name="Hopper")
    with store.db.write() as session:
        synced = session.get(Enrollment, connected["ids"][0])
        assert synced is not None
        synced.clockwork_person_id, synced.project_id = person["id"], None
        session.add(synced)
        accounts.update_sequence(
            session=session, sequence_id=connected["sequence_id"],
            changes={"project_id": project["id"]}, actor="test",
        )  # fmt: skip
    app = open_page("sequences")
    by_label(app.button, "Preview re-sync").click().run()
    assert "1 contact would be added to" in texts(app)
    by_label(app.button, "Re-sync 1 contact").click().run()
    with store.db.read() as session:
        synced = session.get(Enrollment, connected["ids"][0])
    assert synced is not None and synced.project_id == project["id"]
    assert synced.next_attempt_at is not None


def test_activity_backfill_sends_what_tracking_off_skipped(
    store: Runtime, connected: dict[str, Any]
) -> None:
    account_id = connected["account_id"]
    with store.db.write() as session:
        accounts.update_settings(
            session=session, account_id=account_id, changes={"activity_tracking": False},
            actor="test",
        )  # fmt: skip
    store.clock.advance(60)  # type: ignore[attr-defined]
    with store.db.write() as session:
        activity = events.record_event(
            session=session, enrollment_id=connected["ids"][0], kind="opened", at=None,
            subject="Intro",
        )  # fmt: skip
        assert activity.state == "skipped"
    app = open_page("activity", backfill_open=True)  # the expander opened
    assert "1 activity would be written as notes:" in texts(app)  # not "1 activities"
    by_label(app.button, "Send 1 activity").click().run()
    with store.db.read() as session:
        from sync_engine.models import Activity

        (row,) = session.exec(select(Activity)).all()
    assert row.state == "pending"


def test_the_backfill_preview_is_read_only_while_its_expander_is_open(
    store: Runtime, connected: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folded expander's body still runs in Streamlit: the preview's count and rows (~1 s at a
    million activities) are read only once staff open it."""
    from sync_engine.services import activity_backfill

    with store.db.write() as session:
        accounts.update_settings(
            session=session, account_id=connected["account_id"],
            changes={"activity_tracking": False}, actor="test",
        )  # fmt: skip
        events.record_event(
            session=session, enrollment_id=connected["ids"][0], kind="opened", at=None,
            subject="Intro",
        )  # fmt: skip
    calls: list[str] = []
    for name in ("count_backfill", "plan_backfill"):
        real = getattr(activity_backfill, name)
        monkeypatch.setattr(
            activity_backfill, name, lambda *, _real=real, _name=name, **kw: (
                calls.append(_name), _real(**kw))[1],
        )  # fmt: skip
    app = open_page("activity")
    assert any(e.label == "Activity backfill" for e in app.expander)
    assert calls == []
    assert "would be written as notes" not in texts(app)
    app.session_state["backfill_open"] = True  # what opening the expander does
    app.run()
    assert sorted(set(calls)) == ["count_backfill", "plan_backfill"]
    assert "would be written as notes" in texts(app)

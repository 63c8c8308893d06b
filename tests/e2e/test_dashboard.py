"""The dashboard in a real browser, as staff would use it in a demo: connect a firm, change its
settings, add contacts and watch them sync (one flagged Exists in Clockwork), break Clockwork to
make a failure, heal it and retry. Each page is screenshotted to ``test-artifacts/``.

The tests share one tab but not their data: those that add contacts do it in an account of the
module's own (``staffed``: connected, with a sequence), so each passes alone too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, idle, open_expander

ACCOUNT = "E2E Recruiting"
SEQUENCE = "E2E Head of Product"
STAFFED = "E2E Staffing"  # the account the contact tests add to


def type_into(field: Any, value: str) -> None:
    """Type into a text input and leave it, so Streamlit commits the value before any click."""
    field.fill(value)
    field.press("Tab")


def open_page(page: Page, title: str) -> None:
    """Follow the sidebar link to a page (keeps the browser session)."""
    idle(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    idle(page)


def shot(page: Page, name: str) -> None:
    """Save a screenshot of what is on screen."""
    idle(page)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def account_picker(page: Page) -> Any:
    return page.get_by_test_id("stSidebar").get_by_role("combobox", name="Account")


def choose_account(page: Page, name: str) -> None:
    account_picker(page).click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(account_picker(page)).to_have_value(name)
    idle(page)


def create_account(page: Page, name: str) -> None:
    """Create an account on Integrations; it is then the chosen one."""
    open_page(page, "Integrations")
    expander = open_expander(page, "New account")
    type_into(expander.get_by_label("Account name", exact=True), name)
    expander.get_by_role("button", name="Create account", exact=True).click()
    expect(account_picker(page)).to_have_value(name)
    expect(page.get_by_text("Not connected to Clockwork yet")).to_be_visible()
    idle(page)


def connect_demo_firm(page: Page) -> None:
    """Connect the chosen account, on Integrations, to the embedded simulator's firm ``demo``."""
    type_into(page.get_by_label("Firm name", exact=True), "demo")
    type_into(page.get_by_label("API key", exact=True), "sim-api-key")
    type_into(page.get_by_label("API secret", exact=True), "sim-api-secret")
    type_into(page.get_by_label("Firm service key", exact=True), "sim-firm-service-key")
    page.get_by_role("button", name="Save and test connection", exact=True).click()
    state = page.get_by_test_id("stMarkdownContainer").filter(has_text=re.compile("^State"))
    expect(state).to_contain_text("Connected")


def create_sequence(page: Page, name: str) -> None:
    """Create a sequence in the chosen account, on Sequences."""
    open_page(page, "Sequences")
    form = open_expander(page, "New sequence").get_by_test_id("stForm")
    type_into(form.get_by_label("Name", exact=True), name)
    idle(page)  # a click while a run is still drawing the page was lost once in CI
    form.get_by_role("button", name="Create sequence", exact=True).click()
    expect(page.get_by_role("combobox", name="Sequence settings")).to_have_value(name)


@pytest.fixture(scope="module")
def staffed(page: Page) -> str:
    """An account of this module's own, connected to the demo firm and with one sequence, made
    from the pages as staff would; its name."""
    create_account(page, STAFFED)
    connect_demo_firm(page)
    idle(page)
    create_sequence(page, f"{STAFFED} sequence")
    idle(page)
    return STAFFED


def add_contact(page: Page, email: str, *, exists: bool = False) -> int:
    """Add a contact from Demo controls; returns its enrollment id (from the confirmation's link)."""
    idle(page)
    form = page.get_by_test_id("stForm").filter(has_text="Add to sequence")
    type_into(form.get_by_label("Email", exact=True), email)
    type_into(form.get_by_label("First name", exact=True), "Ada")
    type_into(form.get_by_label("Last name", exact=True), "Example")
    if exists:
        form.get_by_text("A recruiter already entered this person in Clockwork").click()
    form.get_by_role("button", name="Add to sequence", exact=True).click()
    # The email reads as typed; a word joiner (U+2060) before its @ keeps it from becoming a
    # mailto link (dashboard.plain_text).
    local, _, domain = email.partition("@")
    shown = re.compile(rf"{re.escape(local)}\u2060?@{re.escape(domain)} to the sequence")
    added = page.get_by_test_id("stAlertContentSuccess").filter(has_text=shown)
    expect(added).to_be_visible()
    # The confirmation names no id (issue 13 item 4): the id is in its "Open in Contacts" link.
    link = page.get_by_role("link", name="Open in Contacts")
    match = re.search(r"enrollment=(\d+)", link.get_attribute("href") or "")
    assert match, link.get_attribute("href")
    idle(page)
    return int(match.group(1))


def open_enrollment(page: Page, base_url: str, enrollment_id: int) -> Any:
    """The Contacts page linked to one enrollment; returns its Status metric value."""
    page.goto(f"{base_url}/contacts?enrollment={enrollment_id}")
    expect(page.get_by_text("Timeline")).to_be_visible(timeout=30_000)
    status = page.get_by_test_id("stMetric").filter(has_text="Status")
    return status.get_by_test_id("stMetricValue")


def test_overview_opens_on_the_seeded_demo(page: Page, dashboard_url: str) -> None:
    page.goto(dashboard_url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Demo mode: an embedded Clockwork simulator")).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Scheduler heartbeat")).to_be_visible()
    expect(page.get_by_text(re.compile(r"\d+ of \d+ accounts need attention"))).to_be_visible(
        timeout=30_000
    )
    type_into(page.get_by_test_id("stSidebar").get_by_label("Acting as", exact=True), "e2e-tester")
    shot(page, "overview")


def test_connect_a_firm(page: Page) -> None:
    create_account(page, ACCOUNT)
    connect_demo_firm(page)
    expect(page.get_by_text("****ey", exact=True)).to_be_visible()  # only a masked hint
    for label in ("API key", "API secret", "Firm service key"):
        field = page.get_by_label(label, exact=True)
        expect(field).to_have_count(1)  # the submitted field is replaced by a fresh, empty one
        expect(field).to_have_value("")
    # The form cleared itself; no secret is held in any field of the page.
    assert page.locator("input[value*='sim-api']").count() == 0
    page.get_by_role("button", name="Test connection", exact=True).click()
    expect(page.get_by_text("Clockwork accepted the credentials.")).to_be_visible()
    shot(page, "integrations")


def test_change_settings_with_a_preview(page: Page) -> None:
    open_page(page, "Sync settings")
    page.get_by_text("Only sync contacts when they reply").click()
    expect(
        page.get_by_text("Contacts added from now on will sync only when they reply.")
    ).to_be_visible()
    idle(page)  # each click on what the last click's rerun drew, once it is done
    page.get_by_text("Sync contacts when added to a sequence").click()
    expect(page.get_by_text("No unsaved changes.")).to_be_visible()
    idle(page)
    page.get_by_text("Write email activity to Clockwork as notes").click()
    expect(page.get_by_text("Email activity from now on is not sent to Clockwork.")).to_be_visible()
    shot(page, "sync-settings")
    page.get_by_role("button", name="Save changes", exact=True).click()
    expect(page.get_by_text("No unsaved changes.")).to_be_visible()

    create_sequence(page, SEQUENCE)
    expect(page.get_by_role("tab", name="Syncing")).to_be_visible()
    shot(page, "sequences")


def test_added_contact_becomes_synced_and_one_exists_in_clockwork(
    page: Page, dashboard_url: str, staffed: str
) -> None:
    open_page(page, "Demo controls")
    choose_account(page, staffed)
    fresh = add_contact(page, "ada.e2e@lovelace-analytics.com")
    existing = add_contact(page, "grace.e2e@northwind-traders.com", exists=True)
    shot(page, "demo-controls")

    page.get_by_role("link", name="Open in Contacts").click()  # same session, linked enrollment
    expect(page).to_have_url(re.compile(rf"enrollment={existing}$"))
    # The linked contact's detail (it names the contact and its sequence, not an id).
    expect(page.get_by_text("grace.e2e@northwind-traders.com · in the sequence")).to_be_visible()
    status = page.get_by_test_id("stMetric").filter(has_text="Status")
    expect(status.get_by_test_id("stMetricValue")).to_have_text("Synced", timeout=30_000)
    expect(page.get_by_text(re.compile(r"^Exists in Clockwork: a recruiter"))).to_be_visible()
    expect(page.get_by_role("link", name="Open the person in Clockwork")).to_have_attribute(
        "href",
        re.compile(r"^http://127\.0\.0\.1:\d+/people/demo/"),  # the simulator's page
    )
    shot(page, "contacts")

    status = open_enrollment(page, dashboard_url, fresh)
    expect(status).to_have_text("Synced", timeout=30_000)
    expect(page.get_by_test_id("stMetric").filter(has_text="Created / linked")).to_contain_text(
        "Created"
    )


def test_a_failure_is_explained_and_retried_after_clockwork_recovers(
    page: Page, dashboard_url: str, staffed: str
) -> None:
    open_page(page, "Demo controls")
    choose_account(page, staffed)
    faults = page.get_by_test_id("stForm").filter(has_text="Apply faults")
    thumb = faults.get_by_test_id("stSlider").filter(has_text="server errors").get_by_role("slider")
    thumb.focus()
    thumb.press("End")
    faults.get_by_role("button", name="Apply faults", exact=True).click()
    expect(page.get_by_text("In force: 100% server errors")).to_be_visible()
    failing = add_contact(page, "ken.e2e@wingtip-toys.com")

    status = open_enrollment(page, dashboard_url, failing)
    expect(status).to_have_text("Failed", timeout=30_000)
    advice = page.get_by_test_id("stAlertContentInfo")
    expect(advice).to_contain_text("Clockwork was unavailable")
    expect(advice).to_contain_text("What to do: Retry")
    shot(page, "contact-failed")

    open_page(page, "Demo controls")
    page.get_by_role("button", name="Clear all faults", exact=True).click()
    expect(page.get_by_text(re.compile(r"^In force: no faults"))).to_be_visible()

    status = open_enrollment(page, dashboard_url, failing)
    page.get_by_role("button", name="Retry", exact=True).click()
    expect(status).to_have_text("Synced", timeout=30_000)


def _download_csv(page: Page, label: str) -> list[str]:
    """Click an export button and return the lines of the CSV it downloads, once the page says
    the export ended."""
    with page.expect_download() as download_info:
        page.get_by_role("button", name=label, exact=True).click()
    lines = download_info.value.path().read_text(encoding="utf-8").splitlines()
    expect(page.get_by_text(re.compile(r"Exported [\d,]+ contacts? \("))).to_be_visible()
    idle(page)
    return lines


def test_csv_export_downloads_the_filtered_view(page: Page, staffed: str) -> None:
    open_page(page, "Demo controls")
    choose_account(page, staffed)
    mine = ["ada.csvcheck@lovelace-analytics.com", "grace.csvcheck@northwind-traders.com"]
    for email in mine:
        add_contact(page, email)

    open_page(page, "Contacts")
    type_into(page.get_by_role("textbox", name="Search", exact=True), "csvcheck")
    # Wait for the button of the filtered run: the one drawn before the search is revoked by
    # the rerun, and a click on it would download nothing.
    expect(page.get_by_role("button", name="Export 2 as CSV", exact=True)).to_be_visible()
    idle(page)
    lines = _download_csv(page, "Export 2 as CSV")
    assert lines[0].startswith("Enrollment ID,Email,Name,Sequence,Status,Reason")
    assert sorted(line.split(",")[1] for line in lines[1:]) == mine

    type_into(page.get_by_role("textbox", name="Search", exact=True), "grace.csvcheck")
    expect(page.get_by_role("button", name="Export 1 as CSV", exact=True)).to_be_visible()
    idle(page)
    lines = _download_csv(page, "Export 1 as CSV")
    assert [line.split(",")[1] for line in lines[1:]] == [mine[1]]


def test_logs_and_audit_pages_render(page: Page) -> None:
    choose_account(page, "Acme Talent")  # the seeded account, with failures, skips and activity
    for title, name in (
        ("Activity", "activity"),
        ("Sync log", "sync-log"),
        ("Audit log", "audit-log"),
    ):
        open_page(page, title)
        expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
        shot(page, name)
    open_page(page, "Sync log")
    page.get_by_role("tab", name="Run history").click()
    expect(page.get_by_text("Show idle passes")).to_be_visible()
    open_page(page, "Overview")
    shot(page, "overview-after")

"""Outside demo mode, in a real browser: the login form, a viewer who only audits, an admin who
configures, and logging out (a ``streamlit run`` with a secrets file of its own)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from sync_engine.config import Settings
from sync_engine.runtime import build_runtime
from sync_engine.services import auth
from tests.e2e.conftest import open_dashboard, serve, store_env
from tests.e2e.test_dashboard import idle, open_page, shot, type_into
from tests.factories import enroll, make_sequence

ADMIN, VIEWER = "alice", "victor"
PASSWORD = "e2e password, long enough"
SIGN_IN = "Sign in to see customer accounts."


@pytest.fixture(scope="module")
def login_url(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A non-demo dashboard over a store with one account, and two users in its secrets."""
    data = tmp_path_factory.mktemp("e2e-login")
    env = store_env(data, CWSYNC_DEMO="false", CWSYNC_SCHEDULER="false")
    runtime = build_runtime(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=env["CWSYNC_DATABASE_URL"],
            key_file=Path(env["CWSYNC_KEY_FILE"]),
            demo=False,
        )
    )
    with runtime.db.write() as session:
        from sync_engine.services import accounts

        account = accounts.create_account(session=session, name="Acme Talent", actor="setup")
    assert account.id is not None
    enroll(runtime, make_sequence(runtime, account.id, "VP Engineering"), "ada@lovelace.com")
    runtime.close()
    hashed = auth.hash_password(PASSWORD)
    secrets = data / "secrets.toml"
    secrets.write_text(
        f'[users.{ADMIN}]\npassword_hash = "{hashed}"\nrole = "admin"\n\n'
        f'[users.{VIEWER}]\npassword_hash = "{hashed}"\nrole = "viewer"\n',
        encoding="utf-8",
    )
    with serve(data, env, "--secrets.files", str(secrets)) as url:
        yield url


@pytest.fixture(scope="module")
def tab(browser: Any, login_url: str) -> Iterator[Page]:
    """One browser session for the module's tests, in order; it shows the login form before the
    module's first test, whichever test that is."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(20_000)
    page = context.new_page()
    open_dashboard(page, login_url, text=SIGN_IN)
    yield page
    context.close()


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill the login form and submit it."""
    idle(page)
    form = page.get_by_test_id("stForm")
    type_into(form.get_by_label("Username", exact=True), username)
    type_into(form.get_by_label("Password", exact=True), password)
    form.get_by_role("button", name="Sign in", exact=True).click()


def nav_links(page: Page) -> list[str]:
    """The page titles in the sidebar navigation."""
    links = page.get_by_test_id("stSidebarNav").get_by_role("link")
    return [text.split("\n")[-1].strip() for text in links.all_inner_texts()]  # after the icon


def test_nothing_shows_before_signing_in(tab: Page, login_url: str) -> None:
    open_dashboard(tab, login_url, text=SIGN_IN)
    expect(tab.get_by_test_id("stSidebarNav")).to_have_count(0)
    expect(tab.get_by_text("Acme Talent")).to_have_count(0)
    shot(tab, "login")


def test_a_wrong_password_is_refused_and_not_kept(tab: Page) -> None:
    sign_in(tab, ADMIN, "not the password")
    expect(tab.get_by_text("Wrong username or password.")).to_be_visible()
    expect(tab.get_by_label("Password", exact=True)).to_have_value("")
    expect(tab.get_by_role("heading", name="Overview")).to_have_count(0)


def test_a_viewer_audits_but_changes_nothing(tab: Page) -> None:
    sign_in(tab, VIEWER, PASSWORD)
    expect(tab.get_by_role("heading", name="Overview")).to_be_visible()
    expect(tab.get_by_text(f"Signed in as {VIEWER} · viewer")).to_be_visible()
    assert nav_links(tab) == [
        "Overview",
        "Contacts",
        "Activity",
        "Sync log",
        "Alerts",
        "Verify",
        "Audit log",
    ]
    open_page(tab, "Contacts")
    expect(tab.get_by_role("button", name="Export 1 as CSV", exact=True)).to_be_visible()
    expect(tab.get_by_role("button", name=re.compile(r"^(Retry|Dismiss)"))).to_have_count(0)
    shot(tab, "contacts-viewer")
    tab.get_by_role("button", name="Log out").click()
    expect(tab.get_by_text(SIGN_IN)).to_be_visible()


def test_an_admin_configures(tab: Page, login_url: str) -> None:
    open_dashboard(tab, login_url, text=SIGN_IN)
    sign_in(tab, ADMIN, PASSWORD)
    expect(tab.get_by_text(f"Signed in as {ADMIN} · admin")).to_be_visible()
    open_page(tab, "Contacts")
    expect(tab.get_by_role("button", name="Retry all failed (0)", exact=True)).to_be_visible()
    assert {"Integrations", "Sync settings", "Sequences"} <= set(nav_links(tab))
    open_page(tab, "Sync settings")
    tab.get_by_text("Only sync contacts when they reply").click()
    expect(
        tab.get_by_text("Contacts added from now on will sync only when they reply.")
    ).to_be_visible()
    idle(tab)  # the choice's rerun has ended: Save is clicked as a user would, on the page drawn
    tab.get_by_role("button", name="Save changes", exact=True).click()
    expect(tab.get_by_text("No unsaved changes.")).to_be_visible()
    open_page(tab, "Audit log")
    table = tab.get_by_test_id("stDataFrame").first
    expect(table).to_be_visible()
    shot(tab, "audit-log-admin")


def test_a_new_browser_session_signs_in_again(tab: Page, login_url: str) -> None:
    open_dashboard(tab, login_url, text=SIGN_IN)


def test_a_link_opened_signed_out_leads_to_its_page_after_signing_in(
    tab: Page, login_url: str
) -> None:
    """A shared link to one contact (``/contacts?enrollment=N``) opened in a new session shows the
    login form, then that contact, not the Overview."""
    open_dashboard(tab, f"{login_url}/contacts?enrollment=1", text=SIGN_IN)
    sign_in(tab, VIEWER, PASSWORD)
    expect(tab.get_by_role("heading", name="Contacts", exact=True)).to_be_visible()
    idle(tab)
    assert tab.url.endswith("/contacts?enrollment=1")
    expect(tab.get_by_text("Timeline", exact=True)).to_be_visible()  # the contact's detail
    expect(tab.get_by_text("Select one row to see its timeline")).to_have_count(0)


def test_a_link_to_an_admin_page_leads_a_viewer_to_the_overview(tab: Page, login_url: str) -> None:
    open_dashboard(tab, f"{login_url}/sequences", text=SIGN_IN)
    sign_in(tab, VIEWER, PASSWORD)
    expect(tab.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    idle(tab)
    assert "Sequences" not in nav_links(tab)
    expect(tab.get_by_role("heading", name="Sequences")).to_have_count(0)

"""The demo on a machine with no network (issue 13 item 9), in chromium with every request to a
host other than this machine refused and recorded: no page asks the internet for anything (the
favicon included), "Open the person in Clockwork" opens the person in the simulator, each seeded
firm's hint connects, and a rejected connect keeps what was typed except the secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import ARTIFACTS, open_dashboard, open_expander, serve, store_env
from tests.e2e.test_dashboard import choose_account, idle, open_page, type_into

LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
PAGES = (
    "Overview", "Contacts", "Activity", "Sync log", "Integrations", "Sync settings", "Sequences",
    "Audit log", "Demo controls",
)  # fmt: skip


@pytest.fixture(scope="module")
def offline_url(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo dashboard of its own (this module connects and reconnects its accounts)."""
    data = tmp_path_factory.mktemp("e2e-offline")
    with serve(data, store_env(data, CWSYNC_DEMO="true")) as url:
        yield url


@pytest.fixture(scope="module")
def outside() -> list[str]:
    """Every URL the browser tried to fetch from another host (each was refused)."""
    return []


@pytest.fixture(scope="module")
def page(browser: Any, offline_url: str, outside: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)

    def only_this_machine(route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", only_this_machine)
    tab = context.new_page()
    open_dashboard(tab, offline_url)
    yield tab
    context.close()


def test_no_page_fetches_anything_from_the_internet(
    page: Page, offline_url: str, outside: list[str]
) -> None:
    page.goto(offline_url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60_000)
    idle(page)
    for title in PAGES:
        open_page(page, title)
        # Headless chromium never requests a favicon, so the page's references are read too:
        # the favicon, stylesheets, images, scripts and frames point at this machine or data.
        fetched = page.evaluate(
            """() => [...document.querySelectorAll('link[href], img[src], script[src], iframe[src]')]
                    .map(e => e.href || e.src)"""
        )
        elsewhere = [
            url for url in fetched
            if not url.startswith(("data:", "blob:")) and urlsplit(url).hostname not in LOCAL_HOSTS
        ]  # fmt: skip
        assert elsewhere == [], (title, elsewhere)
    favicon = page.locator("link[rel='shortcut icon']").get_attribute("href") or ""
    assert favicon.startswith("data:image/svg+xml"), favicon
    assert outside == []


def test_open_the_person_in_clockwork_opens_it_in_the_simulator(
    page: Page, offline_url: str, outside: list[str]
) -> None:
    page.goto(f"{offline_url}/contacts?enrollment=1")  # Acme's first contact
    expect(page.get_by_text("Timeline")).to_be_visible(timeout=30_000)
    link = page.get_by_role("link", name="Open the person in Clockwork")
    expect(link).to_be_visible(timeout=60_000)  # once the demo's scheduler has synced it
    href = link.get_attribute("href") or ""
    assert re.match(r"^http://127\.0\.0\.1:\d+/people/demo/[0-9a-f-]{36}$", href), href
    person = page.context.new_page()
    person.goto(href)
    expect(person.get_by_text("Clockwork simulator · firm demo · read-only")).to_be_visible()
    expect(person.get_by_role("heading", name="Projects")).to_be_visible()
    expect(person.get_by_role("heading", name="Not found")).to_have_count(0)
    person.screenshot(path=ARTIFACTS / "simulator-person.png", full_page=True)
    person.close()
    assert outside == []


def _hint(page: Page, firm: str) -> dict[str, str]:
    shown = page.get_by_text(re.compile(r"^Demo: the embedded simulator knows firm"))
    expect(shown).to_contain_text(f"firm {firm} with")  # this account's, not the last one's
    caption = shown.inner_text()
    words = re.findall(r"firm (\S+) with API key (\S+), secret (\S+) and firm service key (\S+?)\.",
                       caption.replace("`", ""))  # fmt: skip
    assert words, caption
    firm, api_key, api_secret, service_key = words[0]
    return {"firm": firm, "api_key": api_key, "api_secret": api_secret, "service_key": service_key}


def _fill_secrets(page: Page, api_key: str, api_secret: str, service_key: str) -> None:
    type_into(page.get_by_label("API key", exact=True), api_key)
    type_into(page.get_by_label("API secret", exact=True), api_secret)
    type_into(page.get_by_label("Firm service key", exact=True), service_key)


def test_a_rejected_connect_keeps_what_was_typed_and_globexs_hint_connects(
    page: Page, outside: list[str]
) -> None:
    open_page(page, "Integrations")
    choose_account(page, "Globex Search")
    hint = _hint(page, "globex")
    base_url = open_expander(page, "Advanced").get_by_label("Base URL", exact=True).input_value()

    _fill_secrets(page, hint["api_key"], "not-the-secret", hint["service_key"])
    page.get_by_role("button", name="Save and test connection", exact=True).click()
    expect(page.get_by_text("Clockwork rejected the credentials")).to_be_visible()
    idle(page)
    expect(page.get_by_label("Firm name", exact=True)).to_have_value("globex")
    expect(page.get_by_label("Base URL", exact=True)).to_have_value(base_url)
    for label in ("API key", "API secret", "Firm service key"):
        expect(page.get_by_label(label, exact=True)).to_have_value("")
    page.screenshot(path=ARTIFACTS / "integrations-rejected.png", full_page=True)

    _fill_secrets(page, hint["api_key"], hint["api_secret"], hint["service_key"])
    page.get_by_role("button", name="Save and test connection", exact=True).click()
    state = page.get_by_test_id("stMarkdownContainer").filter(has_text=re.compile("^State"))
    expect(state).to_contain_text("Connected")
    idle(page)  # the run that shows "Connected" may still hold the form it replaces
    for label in ("API key", "API secret", "Firm service key"):
        expect(page.get_by_label(label, exact=True)).to_have_value("")
    assert outside == []

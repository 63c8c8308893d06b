"""Every page of the demo at 1440x900 in Chromium, one full-page PNG each in
``test-artifacts/screenshots/`` (gitignored), for a person to look at (issue 13, "Done when").

What can be asserted is: the main tables fit the width (no horizontal scrollbar at 1440 px), the
status pills and the Exists in Clockwork flag are drawn, and the pager has its buttons.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS, serve, store_env
from tests.e2e.test_dashboard import idle

SHOTS = ARTIFACTS / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
PAGES = (
    ("Overview", "overview"),
    ("Contacts", "contacts"),
    ("Activity", "activity"),
    ("Sync log", "sync-log"),
    ("Integrations", "integrations"),
    ("Sync settings", "sync-settings"),
    ("Sequences", "sequences"),
    ("Audit log", "audit-log"),
    ("Demo controls", "demo-controls"),
)


@pytest.fixture(scope="module")
def demo_url(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo dashboard of this module's own: what it shows does not depend on other modules."""
    data = tmp_path_factory.mktemp("e2e-screens")
    with serve(data, store_env(data, CWSYNC_DEMO="true")) as url:
        yield url


@pytest.fixture(scope="module")
def tab(browser: Any, demo_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(demo_url)
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=60_000)
    idle(page)
    yield page
    context.close()


def visit(page: Page, title: str) -> None:
    idle(page)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    idle(page)


def save(page: Page, name: str) -> None:
    """A PNG of the whole page. Streamlit scrolls its main area, not the document, so a
    full-page screenshot alone stops at 900 px: the window is made as tall as the content for
    the shot, then put back to 1440x900."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    idle(page)
    height = page.get_by_test_id("stMain").evaluate("main => main.scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height)})
    try:
        idle(page)
        page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
    finally:
        page.set_viewport_size(VIEWPORT)


@pytest.mark.parametrize(("title", "name"), PAGES, ids=[name for _, name in PAGES])
def test_every_page_at_1440(tab: Page, title: str, name: str) -> None:
    visit(tab, title)
    save(tab, name)

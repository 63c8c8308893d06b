"""Every page of the demo at 1440x900 in Chromium, one full-page PNG each in
``test-artifacts/screenshots/`` (gitignored), for a person to look at (issue 13, "Done when").

What can be asserted is: the main tables fit the width (no horizontal scrollbar at 1440 px), the
status pills and the Exists in Clockwork flag are drawn, and the pager has its buttons.
"""

from __future__ import annotations

import io
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from dashboard.theme import FLAG_COLOUR, STATUS_COLOURS
from tests.e2e.conftest import ARTIFACTS, serve, store_env
from tests.e2e.test_dashboard import idle

SHOTS = ARTIFACTS / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}
PAGES = (
    ("Overview", "overview"),
    ("Contacts", "contacts"),
    ("Activity", "activity"),
    ("Sync log", "sync-log"),
    ("Alerts", "alerts"),
    ("Verify", "verify"),
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
    # The page's title starts with its link's ("Verify" opens "Verify against Clockwork").
    heading = page.get_by_role("heading", name=re.compile(rf"^{re.escape(title)}"), level=1)
    expect(heading).to_be_visible()
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


def wide_tables(page: Page) -> list[str]:
    """The main area's tables that scroll sideways at the current width ("scroll width > shown
    width" each); an empty list when every column fits."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stDataFrame"]')]
            .map((table) => table.querySelector(".dvn-scroller"))
            .filter((scroller) => scroller && scroller.scrollWidth > scroller.clientWidth + 1)
            .map((scroller) => `${scroller.scrollWidth} > ${scroller.clientWidth}`)"""
    )


def colours_in(png: bytes) -> Counter[tuple[int, int, int]]:
    """How many pixels of each colour a PNG has."""
    with Image.open(io.BytesIO(png)) as image:
        data = image.convert("RGB").tobytes()
    return Counter(zip(data[0::3], data[1::3], data[2::3], strict=True))


def has_colour(
    colours: Counter[tuple[int, int, int]], hex_colour: str, *, pixels: int = 200
) -> bool:
    """Whether at least ``pixels`` pixels have ``hex_colour`` (a pill's fill, give or take 6)."""
    wanted = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    found = sum(
        count
        for colour, count in colours.items()
        if all(abs(a - b) <= 6 for a, b in zip(colour, wanted, strict=True))
    )
    return found >= pixels


def pager_buttons(page: Page) -> None:
    """The pager under the main table: First, Previous, "Page N of M", Next, Last."""
    main = page.get_by_test_id("stMain")
    for label in ("First", "Previous", "Next", "Last"):
        expect(main.get_by_role("button", name=label, exact=True)).to_be_visible()
    expect(main.get_by_text(re.compile(r"^Page [\d,]+ of [\d,]+$"))).to_be_visible()
    expect(main.get_by_test_id("stNumberInput")).to_have_count(0)  # no number stepper


@pytest.mark.parametrize(("title", "name"), PAGES, ids=[name for _, name in PAGES])
def test_every_page_at_1440(tab: Page, title: str, name: str) -> None:
    visit(tab, title)
    if name == "contacts":
        wait_for_failed_contact(tab)
    assert wide_tables(tab) == [], f"{title}: a table scrolls sideways at 1440x900"
    if name in ("contacts", "activity", "audit-log"):
        pager_buttons(tab)
    save(tab, name)


def wait_for_failed_contact(page: Page) -> None:
    """Until the demo's refused contact shows as Failed (the scheduler runs every second)."""
    grid = page.get_by_test_id("stDataFrame").first.locator("table[role=grid]")
    deadline = time.monotonic() + 60
    while "Failed" not in grid.inner_text():
        assert time.monotonic() < deadline, "the demo's refused contact never showed as Failed"
        page.get_by_role("button", name="Refresh", exact=True).click()
        idle(page)


def test_contacts_show_status_pills_and_the_exists_in_clockwork_badge(tab: Page) -> None:
    """Coloured pills drawn in the table: Failed red, Synced green, and the amber Exists in
    Clockwork badge (a checkbox before)."""
    visit(tab, "Contacts")
    wait_for_failed_contact(tab)
    table = tab.get_by_test_id("stDataFrame").first
    cells = table.locator("table[role=grid] td").all_text_contents()
    assert "Exists in Clockwork" in cells  # in a row, not only the header
    colours = colours_in(table.screenshot())
    assert has_colour(colours, STATUS_COLOURS["failed"]), "no red Failed pill"
    assert has_colour(colours, STATUS_COLOURS["synced"]), "no green Synced pill"
    assert has_colour(colours, FLAG_COLOUR), "no Exists in Clockwork badge"


def test_contact_detail_at_1440(tab: Page, demo_url: str) -> None:
    """The refused contact's detail view (filtered to Failed, its row selected): the status pill,
    then everything the table leaves out."""
    tab.goto(f"{demo_url}/contacts")  # afresh, at the top of the page (not scrolled)
    expect(tab.get_by_role("heading", name="Contacts", exact=True)).to_be_visible()
    idle(tab)
    wait_for_failed_contact(tab)
    main = tab.get_by_test_id("stMain")
    idle(tab)
    status = main.get_by_test_id("stMultiSelect").filter(has_text="Status")
    status.locator("input").fill("Failed")  # typed, then chosen with Enter
    status.locator("input").press("Enter")
    tab.keyboard.press("Escape")
    expect(status.get_by_text("Failed", exact=True)).to_be_visible()  # the chosen chip
    idle(tab)
    table = main.get_by_test_id("stDataFrame").first
    expect(table.locator("table[role=grid] td").first).to_have_text("Failed")
    box = table.bounding_box()
    assert box is not None
    # The row selector of the only row: the header is 35 px, the row takes the rest.
    tab.mouse.click(box["x"] + 16, box["y"] + 35 + (box["height"] - 38) / 2)
    expect(main.get_by_text("Timeline", exact=True)).to_be_visible()
    idle(tab)
    save(tab, "contact-detail")
    badge = main.locator(".stMarkdownBadge", has_text="Failed")  # st.badge's class
    expect(badge).to_be_visible()
    assert wide_tables(tab) == [], "a table of the detail view scrolls sideways at 1440x900"
    save(tab, "contact-detail")

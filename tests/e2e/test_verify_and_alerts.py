"""Issue 16 in a real browser on the demo: Verify finds the seeded drift and queues its repair;
Alerts sends a test alert to a receiver on a real socket."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.alerts.receiver import Receiver
from tests.e2e.conftest import open_dashboard, serve, store_env
from tests.e2e.test_dashboard import idle


@pytest.fixture(scope="module")
def demo(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo dashboard of this module's own; its URL."""
    data = tmp_path_factory.mktemp("e2e-verify")
    with serve(data, store_env(data, CWSYNC_DEMO="true")) as url:
        yield url


@pytest.fixture
def tab(browser: Any, demo: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    open_dashboard(page, demo)
    yield page
    context.close()


def _go(page: Page, link: str, heading: str) -> None:
    idle(page)  # a rerun the last action left in flight can take the place of the clicked page
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    idle(page)


def test_verify_finds_the_demos_drift_and_queues_the_repair(tab: Page) -> None:
    _go(tab, "Verify", "Verify against Clockwork")
    tab.get_by_role("button", name="Verify now").click()
    progress = tab.get_by_text(re.compile(r"^Finished: (\d+) of \1 contacts checked, 3 drifted$"))
    expect(progress).to_be_visible(timeout=60_000)
    idle(tab)
    expect(tab.get_by_role("heading", name="Repair", exact=True)).to_be_visible()
    tab.get_by_role("button", name="Repair these contacts").click()
    expect(tab.get_by_text("3 contacts queued for repair")).to_be_visible()


def test_a_test_alert_reaches_a_receiver(tab: Page) -> None:
    with Receiver() as receiver:
        _go(tab, "Alerts", "Alerts")
        tab.get_by_role("textbox", name="URL").fill(receiver.url)
        tab.get_by_role("button", name="Add destination").click()
        idle(tab)
        expect(tab.get_by_text("shown only once")).to_be_visible()
        tab.get_by_role("button", name="Send a test alert").first.click()
        expect(tab.get_by_text("The test alert arrived.")).to_be_visible()
        assert [r.json()["type"] for r in receiver.received] == ["alert.test"]


def test_the_thresholds_read_as_the_rules_table_shows_them(tab: Page) -> None:
    _go(tab, "Alerts", "Alerts")
    for label, shown in (
        ("seconds the oldest due contact may wait", "900"),  # not "900.00"
        ("drifted contacts before it alerts", "1"),
        ("share of the last hour's syncs that failed (0 to 1)", "0.25"),
    ):
        expect(tab.get_by_role("spinbutton", name=label)).to_have_value(shown)

"""The whole-account CSV export in a real browser (issue 13 item 11): one click starts a streamed
download from the dashboard's export server, the page reports how it went, and the link it used
works only once."""

from __future__ import annotations

import csv
import io
import re

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.test_dashboard import idle, open_page, shot

EXPORT = re.compile(r"^Export ([\d,]+) as CSV$")


def test_one_click_streams_the_whole_account_and_the_link_works_once(
    page: Page, dashboard_url: str
) -> None:
    page.goto(f"{dashboard_url}/contacts")
    idle(page)
    button = page.get_by_role("button", name=EXPORT)
    match = re.search(r"Export ([\d,]+) as CSV", button.inner_text())  # after the icon's name
    assert match, button.inner_text()
    total = int(match.group(1).replace(",", ""))

    with page.expect_download() as download_info:
        button.click()
    download = download_info.value
    assert download.suggested_filename == "contacts.csv"
    rows = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8"))))
    assert len(rows) == total and all("@" in row["Email"] for row in rows)

    expect(page.get_by_text(f"Exported {total:,} contacts")).to_be_visible()
    expect(page.get_by_role("button", name=EXPORT)).to_be_enabled()
    idle(page)
    shot(page, "contacts-export")

    # The download's address, asked again, is refused: a token downloads once.
    assert "/export/" in download.url
    again = httpx.get(download.url, timeout=10)
    assert again.status_code == 410 and "already been used" in again.text


def test_each_export_gets_a_download_of_its_own(page: Page) -> None:
    open_page(page, "Contacts")
    addresses, lines = [], []
    for _ in range(2):
        with page.expect_download() as download_info:
            page.get_by_role("button", name=EXPORT).click()
        download = download_info.value
        addresses.append(download.url)
        lines.append(len(download.path().read_text(encoding="utf-8").splitlines()))
        expect(page.get_by_text(re.compile(r"Exported [\d,]+ contacts"))).to_be_visible()
        idle(page)
    assert addresses[0] != addresses[1] and lines[0] == lines[1] > 1


def test_a_sidebar_link_clicked_right_after_the_download_opens_its_page(page: Page) -> None:
    """A click on a sidebar link as soon as the file is in opens that page, and it stays: the
    export, still polling its outcome, asks for no rerun of Contacts that could win over it
    (one when the download ended could take the page back, rarely, mostly under load)."""
    open_page(page, "Contacts")
    with page.expect_download() as download_info:
        page.get_by_role("button", name=EXPORT).click()
    download_info.value.path()  # the whole file is in: the download is over for the user
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Activity", exact=True).click()
    expect(page.get_by_role("heading", name="Activity", exact=True)).to_be_visible()
    idle(page)
    # Still there once the app has settled: no late rerun of Contacts took the page back.
    expect(page.get_by_role("heading", name="Activity", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Contacts", exact=True)).to_have_count(0)
    assert page.url.endswith("/activity"), page.url

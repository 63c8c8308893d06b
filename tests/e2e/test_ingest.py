"""The ingest API in the demo, in a real browser: Integrations shows the endpoint and creates a
token shown once; an event recorded from Demo controls goes through the API and shows on
Integrations as an accepted delivery."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.test_dashboard import idle, open_page, shot, type_into


def test_demo_events_go_through_the_ingest_api_and_show_as_deliveries(
    page: Page, dashboard_url: str
) -> None:
    page.goto(dashboard_url)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=60_000)
    open_page(page, "Integrations")
    expect(page.get_by_text("Events from your outreach platform")).to_be_visible()
    endpoint = page.get_by_test_id("stCode").filter(has_text="/v1/accounts/").first
    expect(endpoint).to_be_visible()
    url = endpoint.inner_text().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1/accounts/\d+", url), url

    form = page.get_by_test_id("stForm").filter(has_text="Token name")
    type_into(form.get_by_label("Token name", exact=True), "E2E platform")
    form.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("Copy this token now: it is shown only once")).to_be_visible()
    token = page.get_by_test_id("stCode").filter(has_text="cwk_").first.inner_text().strip()
    assert token.startswith("cwk_")
    # The token works against the endpoint the page shows (a read: no change to the demo).
    answer = httpx.get(f"{url}/enrollments/1", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code in (200, 404), answer.text
    assert httpx.get(f"{url}/enrollments/1").status_code == 401

    open_page(page, "Demo controls")
    form = page.get_by_test_id("stForm").filter(has_text="Record event")
    form.get_by_role("button", name="Record event").click()
    idle(page)
    expect(page.get_by_text(re.compile(r"Recorded \w+ for"))).to_be_visible()

    open_page(page, "Integrations")
    expect(page.get_by_text(re.compile(r"^Latest: Accepted, POST events"))).to_be_visible()
    shot(page, "integrations-ingest")

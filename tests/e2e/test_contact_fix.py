"""Fix the contact, then Retry, in a real browser (issue 13 item 3): the demo's contact whose
LinkedIn URL Clockwork refused (a 422 on /people/{id}/linkedin_urls) shows the refused field; an
admin corrects the URL in the enrollment detail, retries, sees it queued and then synced by the
demo's live scheduler, with "Attempts" counting both attempts, and the correction audited under
the name in "Acting as"."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from sync_engine.models import AuditEntry, Contact, Enrollment
from tests.e2e.conftest import scroll_to, serve, store_env
from tests.e2e.test_audit_actor import reading
from tests.e2e.test_dashboard import idle, shot

FRANCES = "frances.allen@litware.com"  # seeded with "https://www.linkedin.com/in/frances allen"
FIXED_URL = "https://www.linkedin.com/in/frances-allen"


@pytest.fixture(scope="module")
def demo(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A demo dashboard of this module's own (its seeded contact is corrected here)."""
    data = tmp_path_factory.mktemp("e2e-fix")
    env = store_env(data, CWSYNC_DEMO="true")
    with serve(data, env) as url:
        yield {"url": url, "env": env}


def frances_enrollment(env: dict[str, str]) -> int:
    with reading(env) as session:
        enrollment_id = session.exec(
            select(Enrollment.id).join(Contact).where(Contact.email == FRANCES)
        ).one()
    assert enrollment_id is not None
    return enrollment_id


def contact_audit(env: dict[str, str]) -> list[tuple[str, str, str | None, str | None]]:
    with reading(env) as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.entity == "contact")).all()
        return [(e.actor, e.field, e.old_value, e.new_value) for e in entries]


def metric(page: Page, label: str) -> Any:
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def test_the_refused_linkedin_url_is_fixed_and_retried_until_synced(
    page: Page, demo: dict[str, Any]
) -> None:
    page.goto(demo["url"])
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=60_000)
    idle(page)
    page.goto(f"{demo['url']}/contacts?enrollment={frances_enrollment(demo['env'])}")
    expect(metric(page, "Status")).to_have_text("Failed", timeout=60_000)
    page.get_by_test_id("stSidebar").get_by_label("Acting as", exact=True).fill("Fran Fixer")
    refused = page.get_by_test_id("stAlertContentError").filter(has_text="was refused")
    expect(refused).to_contain_text("LinkedIn URL was refused: url is not a LinkedIn URL")
    expect(metric(page, "Attempts")).to_have_text("1")
    form = page.get_by_test_id("stForm")
    scroll_to(form)
    shot(page, "contact-refused")

    field = form.get_by_label("LinkedIn URL", exact=True)
    expect(field).to_have_value("https://www.linkedin.com/in/frances allen")
    field.fill(FIXED_URL)
    form.get_by_role("button", name="Save the contact", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Contact saved \(LinkedIn URL\)"))).to_be_visible()
    expect(metric(page, "Status")).to_have_text("Failed")  # saved; Retry is the next step
    expect(page.get_by_test_id("stForm").get_by_label("LinkedIn URL", exact=True)).to_have_value(
        FIXED_URL
    )

    idle(page)  # the save's rerun has ended
    page.get_by_role("button", name="Retry", exact=True).click()
    expect(page.get_by_text("1 contact queued for retry.")).to_be_visible()
    # The first status drawn after the retry is the queue's, whatever the scheduler does next.
    expect(metric(page, "Status")).to_have_text(re.compile(r"^(Queued|Syncing|Synced)$"))
    expect(metric(page, "Status")).to_have_text("Synced", timeout=30_000)
    expect(metric(page, "Attempts")).to_have_text("2")
    timeline = page.get_by_test_id("stDataFrame").last
    scroll_to(timeline)  # the contact's detail refreshes: the table may be redrawn meanwhile
    shot(page, "contact-fixed")

    assert contact_audit(demo["env"]) == [
        ("Fran Fixer", "linkedin_url", "https://www.linkedin.com/in/frances allen", FIXED_URL)
    ]

"""Instantly and Smartlead webhooks, from their published example payloads, mapped to our
events and delivered through the API as the platforms send them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from sync_engine.ingest.adapters import ADAPTERS, instantly, smartlead
from sync_engine.ingest.models import IngestSequenceRef
from sync_engine.models import Activity, Contact, Sequence
from sync_engine.services.errors import InvalidInputError
from tests.ingest.conftest import Api

FIXTURES = Path(__file__).parent / "fixtures"


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# fixture -> (kind, campaign ref, email, first name, subject, occurred at)
EXPECTED = {
    "instantly_email_sent.json": ("sent", "instantly:8c9d2f4e-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
        "priya.raman@example.com", "Priya", "Engineering leadership at Contoso",
        "2026-10-28T14:05:00+00:00"),
    "instantly_email_opened.json": ("opened", "instantly:8c9d2f4e-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
        "priya.raman@example.com", "", "", "2026-10-28T15:40:12+00:00"),
    "instantly_link_clicked.json": ("clicked", "instantly:8c9d2f4e-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
        "priya.raman@example.com", "", "", "2026-10-28T15:41:02+00:00"),
    "instantly_reply_received.json": ("replied", "instantly:8c9d2f4e-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
        "priya.raman@example.com", "", "Re: Engineering leadership at Contoso",
        "2026-10-29T08:12:44+00:00"),
    "instantly_email_bounced.json": ("bounced", "instantly:8c9d2f4e-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
        "old.address@example.com", "", "", "2026-10-28T14:05:09+00:00"),
    "smartlead_email_sent.json": ("sent", "smartlead:123", "lead@example.com", "John",
        "Quick question about Acme Corp", "2025-01-15T09:00:00+00:00"),
    "smartlead_email_open.json": ("opened", "smartlead:123", "lead@example.com", "John", "",
        "2025-01-15T10:30:00+00:00"),
    "smartlead_email_link_click.json": ("clicked", "smartlead:123", "lead@example.com", "John",
        "", "2025-01-15T10:45:00+00:00"),
    "smartlead_email_opened_help_center.json": ("opened", "smartlead:111",
        "david.carroll@example.com", "David", "OR", "2023-09-25T17:29:11.618881+00:00"),
    "smartlead_email_replied_lead_object.json": ("replied", "smartlead:123", "lead@example.com",
        "Jane", "Re: Quick question", "2024-01-15T10:30:00+00:00"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_published_example_maps_to_our_event(name: str) -> None:
    adapter = ADAPTERS[name.split("_")[0]]
    event = adapter(_fixture(name))
    kind, ref, email, first, subject, at = EXPECTED[name]
    assert event.kind == kind
    assert event.campaign_ref == ref
    assert event.contact["email"] == email
    assert event.contact["first_name"] == first
    assert event.subject == subject
    assert event.occurred_at is not None and event.occurred_at.isoformat() == at


def test_an_event_type_we_have_no_activity_for_is_ignored() -> None:
    assert instantly(_fixture("instantly_lead_interested.json")).kind is None
    assert smartlead({"event_type": "LEAD_UNSUBSCRIBED", "campaign_id": 1}).kind is None


@pytest.mark.parametrize(
    ("adapter", "payload", "problem"),
    [
        (instantly, {"campaign_id": "c"}, "without event_type"),
        (instantly, {"event_type": "email_sent"}, "without campaign_id"),
        (instantly, {"event_type": "email_sent", "campaign_id": "c"}, "without lead_email"),
        (instantly, {"event_type": "email_sent", "campaign_id": "c", "lead_email": "a@b.co",
                     "timestamp": "yesterday"}, "not an ISO 8601"),
        (smartlead, {"event_type": "EMAIL_SENT", "campaign_id": 1}, "without to_email"),
        (smartlead, {"event_type": "EMAIL_SENT", "campaign_id": 1, "to_email": "a@b.co",
                     "time_sent": "2025-01-15T09:00:00"}, "no timezone"),
    ],
)  # fmt: skip
def test_a_payload_missing_what_we_need_is_refused_with_the_field(
    adapter: Any, payload: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        adapter(payload)


def test_each_published_example_is_recorded_through_the_api_once(api: Api) -> None:
    for name in sorted(EXPECTED):
        platform = name.split("_")[0]
        for _ in range(2):  # the platform retries with the same body
            answer = api.call("POST", f"/adapters/{platform}", _fixture(name))
            assert answer.status_code == 200, (name, answer.text)
            assert answer.json()["result"] == "recorded"
    ignored = api.call("POST", "/adapters/instantly", _fixture("instantly_lead_interested.json"))
    assert ignored.status_code == 200 and ignored.json()["result"] == "ignored"
    with api.runtime.db.read() as session:
        activities = session.exec(select(Activity)).all()
        sequences = {
            ref.ref: session.get(Sequence, ref.sequence_id)
            for ref in session.exec(select(IngestSequenceRef)).all()
        }
        contacts = {c.email: c for c in session.exec(select(Contact)).all()}
    assert len(activities) == len(EXPECTED)
    assert sorted(a.kind for a in activities) == sorted(v[0] for v in EXPECTED.values())
    names = {ref: sequence.name for ref, sequence in sequences.items() if sequence}
    assert names == {
        "instantly:8c9d2f4e-1a2b-4c3d-9e8f-7a6b5c4d3e2f": "VP Engineering - Q4",
        "smartlead:123": "Q1 Outreach",
        "smartlead:111": "OR Tracker",
    }
    assert (contacts["lead@example.com"].first_name, contacts["lead@example.com"].last_name) == (
        "John", "Doe",
    )  # fmt: skip


def test_the_first_event_of_a_lead_creates_the_contact_with_its_details(api: Api) -> None:
    answer = api.call("POST", "/adapters/instantly", _fixture("instantly_email_sent.json"))
    assert answer.status_code == 200 and answer.json()["contact"] == "added"
    with api.runtime.db.read() as session:
        contact = session.exec(select(Contact)).one()
    assert (contact.first_name, contact.last_name, contact.company) == (
        "Priya", "Raman", "Contoso Health",
    )  # fmt: skip


def test_a_platform_that_sets_only_a_url_can_put_the_token_in_it(api: Api) -> None:
    url = f"{api.root}/adapters/smartlead?token={api.token}"
    answer = api.client.post(url, json=_fixture("smartlead_email_sent.json"))
    assert answer.status_code == 200, answer.text
    assert (
        api.client.post(f"{api.root}/adapters/smartlead?token=cwk_wrong", json={}).status_code
        == 401
    )
    # Only the adapters read a token from the URL.
    assert (
        api.client.put(f"{api.root}/sequences/s?token={api.token}", json={"name": "S"}).status_code
        == 401
    )

"""Batches: invalid items are reported one by one while the valid ones are accepted, with the
same validation and add-time decision as the CLI."""

from __future__ import annotations

from sqlmodel import select

from sync_engine.models import Activity, Enrollment, EnrollmentStatus, Reason
from tests.ingest.conftest import Api


def test_a_contact_batch_reports_bad_items_and_adds_the_rest(api: Api) -> None:
    assert api.put_sequence("seq-1").status_code == 201
    assert (
        api.call("POST", "/sequences/seq-1/contacts", {"email": "old@example.com"}).status_code
        == 201
    )
    batch = {
        "contacts": [
            {"email": "new@example.com", "first_name": "New"},
            {"email": "not-an-email"},
            {"email": "OLD@example.com"},
            {"email": "x@example.com", "linkedin_url": "https://example.com/me"},
            {"email": "y@example.com", "favourite_colour": "blue"},
            {"email": "new@example.com"},
            {"email": "z@example.com", "first_name": "Line\nbreak"},
            "not an object",
            {"first_name": "No email"},
        ]
    }
    answer = api.call("POST", "/sequences/seq-1/contacts/batch", batch)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (2, 7)
    results = [(item["index"], item["result"]) for item in body["items"]]
    assert results == [
        (0, "added"), (1, "rejected"), (2, "already_enrolled"), (3, "rejected"),
        (4, "rejected"), (5, "rejected"), (6, "rejected"), (7, "rejected"), (8, "rejected"),
    ]  # fmt: skip
    errors = {item["index"]: item.get("error", "") for item in body["items"]}
    assert "invalid email" in errors[1]
    assert "linkedin.com" in errors[3]
    assert "favourite_colour" in errors[4]
    assert "already in this sequence" in errors[5]
    assert "control character" in errors[6]
    assert errors[7] == "a contact must be a JSON object"
    assert "email" in errors[8]
    assert body["items"][2]["enrollment_id"] == 1


def test_the_add_time_decision_is_the_clis(api: Api) -> None:
    """A sequence with Disable Sync on: contacts added through the API are skipped with the
    reason, exactly as `cwsync contact add` would decide."""
    assert api.put_sequence("off", disable_sync=True).status_code == 201
    answer = api.call("POST", "/sequences/off/contacts", {"email": "a@example.com"})
    assert answer.status_code == 201
    assert (answer.json()["status"], answer.json()["reason"]) == (
        EnrollmentStatus.SKIPPED, Reason.SEQUENCE_SYNC_DISABLED,
    )  # fmt: skip
    changed = api.put_sequence("off", disable_sync=False, project_id="proj-42")
    assert changed.status_code == 200 and changed.json()["created"] is False
    later = api.call("POST", "/sequences/off/contacts", {"email": "b@example.com"})
    assert later.json()["status"] == EnrollmentStatus.QUEUED
    with api.runtime.db.read() as session:
        rows = session.exec(select(Enrollment).order_by(Enrollment.id)).all()  # type: ignore[arg-type]
    assert [(r.status, r.project_id) for r in rows] == [
        (EnrollmentStatus.SKIPPED, None), (EnrollmentStatus.QUEUED, "proj-42"),
    ]  # fmt: skip


def test_an_event_batch_reports_bad_and_unknown_items_and_records_the_rest(api: Api) -> None:
    assert api.put_sequence("seq-1").status_code == 201
    assert (
        api.call("POST", "/sequences/seq-1/contacts", {"email": "a@example.com"}).status_code == 201
    )
    future = (api.clock().replace(year=2030)).isoformat()
    batch = {
        "events": [
            {"kind": "sent", "sequence": "seq-1", "email": "a@example.com"},
            {"kind": "teleported", "sequence": "seq-1", "email": "a@example.com"},
            {"kind": "opened", "sequence": "seq-1", "email": "ghost@example.com"},
            {"kind": "opened", "sequence": "nope", "email": "a@example.com"},
            {
                "kind": "opened",
                "sequence": "seq-1",
                "email": "a@example.com",
                "occurred_at": future,
            },
            {"kind": "opened"},
            "not an object",
            {"kind": "replied", "sequence": "seq-1", "email": "A@Example.com", "subject": "Re: hi"},
        ]
    }
    answer = api.call("POST", "/events/batch", batch)
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [item["result"] for item in items] == [
        "recorded", "rejected", "not_found", "not_found", "rejected", "rejected", "rejected",
        "recorded",
    ]  # fmt: skip
    assert "future" in items[4]["error"]
    with api.runtime.db.read() as session:
        kinds = sorted(a.kind for a in session.exec(select(Activity)).all())
    assert kinds == ["replied", "sent"]


def test_a_batch_with_nothing_acceptable_is_a_422(api: Api) -> None:
    assert api.put_sequence("seq-1").status_code == 201
    answer = api.call("POST", "/sequences/seq-1/contacts/batch", {"contacts": [{"email": "no"}]})
    assert answer.status_code == 422
    assert answer.json()["error"]["message"].startswith("item 0: email: invalid email")


def test_batches_over_a_thousand_items_are_refused_whole(api: Api) -> None:
    assert api.put_sequence("seq-1").status_code == 201
    contacts = {"contacts": [{"email": f"c{i}@example.com"} for i in range(1001)]}
    answer = api.call("POST", "/sequences/seq-1/contacts/batch", contacts)
    assert answer.status_code == 422
    assert "1000" in answer.json()["error"]["message"]
    events = {"events": [{"kind": "sent"}] * 1001}
    assert api.call("POST", "/events/batch", events).status_code == 422


def test_a_batch_of_a_thousand_contacts_is_accepted(api: Api) -> None:
    assert api.put_sequence("seq-1").status_code == 201
    contacts = {"contacts": [{"email": f"c{i}@example.com"} for i in range(1000)]}
    answer = api.call("POST", "/sequences/seq-1/contacts/batch", contacts)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1000

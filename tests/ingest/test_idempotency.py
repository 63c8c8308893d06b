"""The same delivery twice is recorded once and answered the same: by Idempotency-Key, by the
Standard Webhooks webhook-id, also when both copies arrive at once. A 404 is not remembered, so
a delivery sent before its contact succeeds when retried after."""

from __future__ import annotations

import threading

from sqlmodel import func, select

from sync_engine.ingest.models import IngestDelivery
from sync_engine.models import Activity, Enrollment
from tests.ingest.conftest import Api

EVENT = {"kind": "opened", "sequence": "seq-1", "email": "maya@example.com", "subject": "Hi"}


def _count(api: Api, model: type) -> int:
    with api.runtime.db.read() as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _sequence_with_contact(api: Api) -> None:
    assert api.put_sequence("seq-1").status_code == 201
    added = api.call("POST", "/sequences/seq-1/contacts", {"email": "maya@example.com"})
    assert added.status_code == 201, added.text


def test_the_same_idempotency_key_twice_records_once_and_answers_the_same(api: Api) -> None:
    _sequence_with_contact(api)
    first = api.call("POST", "/events", EVENT, headers={"Idempotency-Key": "evt-1"})
    second = api.call("POST", "/events", EVENT, headers={"Idempotency-Key": "evt-1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert _count(api, Activity) == 1
    third = api.call("POST", "/events", EVENT, headers={"Idempotency-Key": "evt-2"})
    assert third.status_code == 201 and _count(api, Activity) == 2


def test_the_same_webhook_id_twice_records_once(api: Api) -> None:
    _sequence_with_contact(api)
    first = api.signed("/events", EVENT, msg_id="msg_2fG")
    api.clock.advance(30)  # the sender's retry is signed again, later, with the same id
    second = api.signed("/events", EVENT, msg_id="msg_2fG")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert _count(api, Activity) == 1


def test_a_batch_sent_twice_adds_its_contacts_once(api: Api) -> None:
    assert api.put_sequence("seq-1").status_code == 201
    batch = {"contacts": [{"email": f"c{i}@example.com"} for i in range(20)]}
    first = api.call(
        "POST", "/sequences/seq-1/contacts/batch", batch, headers={"Idempotency-Key": "b"}
    )
    second = api.call(
        "POST", "/sequences/seq-1/contacts/batch", batch, headers={"Idempotency-Key": "b"}
    )
    assert first.json() == second.json() and first.json()["accepted"] == 20
    assert _count(api, Enrollment) == 20


def test_copies_arriving_at_once_are_recorded_once(api: Api) -> None:
    _sequence_with_contact(api)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def send() -> None:
        answer = api.call("POST", "/events", EVENT, headers={"Idempotency-Key": "same"})
        with lock:
            answers.append((answer.status_code, answer.json()))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in answers} == {201}
    assert len({str(body) for _, body in answers}) == 1
    assert _count(api, Activity) == 1


def test_every_delivery_twice_and_out_of_order_gives_no_duplicate_and_no_loss(api: Api) -> None:
    """Events for contacts not yet added come first (404, not remembered), then the contacts,
    then every delivery again: each event is recorded exactly once."""
    assert api.put_sequence("seq-1").status_code == 201
    emails = [f"p{i}@example.com" for i in range(5)]
    events = [
        ({"kind": kind, "sequence": "seq-1", "email": email}, f"{email}-{kind}")
        for email in emails
        for kind in ("sent", "opened")
    ]
    early = [api.call("POST", "/events", e, headers={"Idempotency-Key": k}) for e, k in events]
    assert {a.status_code for a in early} == {404}
    assert "add the contact first" in early[0].json()["error"]["message"]
    for email in emails:
        for _ in range(2):
            api.call("POST", "/sequences/seq-1/contacts", {"email": email},
                     headers={"Idempotency-Key": f"add-{email}"})  # fmt: skip
    for _ in range(2):
        for event, key in reversed(events):
            assert (
                api.call("POST", "/events", event, headers={"Idempotency-Key": key}).status_code
                == 201
            )
    assert _count(api, Enrollment) == 5
    assert _count(api, Activity) == len(events)


def test_an_unknown_sequence_is_a_404_with_what_to_do(api: Api) -> None:
    answer = api.call("POST", "/sequences/nope/contacts", {"email": "a@example.com"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert "PUT" in answer.json()["error"]["message"]


def test_accepted_and_refused_deliveries_are_both_logged(api: Api) -> None:
    _sequence_with_contact(api)
    api.call("POST", "/events", {**EVENT, "email": "nobody@example.com"})
    with api.runtime.db.read() as session:
        rows = session.exec(select(IngestDelivery).order_by(IngestDelivery.id)).all()  # type: ignore[arg-type]
    outcomes = [(row.route, row.outcome, row.status_code) for row in rows]
    assert outcomes == [
        ("PUT sequences/seq-1", "accepted", 201),
        ("POST sequences/seq-1/contacts", "accepted", 201),
        ("POST events", "rejected", 404),
    ]
    assert "nobody@example.com" in (rows[-1].reason or "")

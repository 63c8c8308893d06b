"""The single events of one group commit are recorded together (one statement per table): each
is answered as it would be alone, a key seen before or twice in the group is recorded once and
answered the same, a refused one leaves the others alone."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import func, select
from starlette.requests import Request

from sync_engine.ingest import service
from sync_engine.ingest.app import event_work
from sync_engine.ingest.delivery import Delivery, IngestApp, Refused, Result
from sync_engine.ingest.grouped import Later
from sync_engine.models import Activity, Enrollment
from tests.ingest.conftest import Api

EVENT = {"kind": "opened", "sequence": "seq-1", "email": "maya@example.com"}


def _delivery(api: Api, body: dict[str, Any], key: str | None, *, together: bool) -> Delivery:
    headers = [(b"authorization", f"Bearer {api.token}".encode())]
    if key is not None:
        headers.append((b"idempotency-key", key.encode()))
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"",
             "headers": headers, "client": ("127.0.0.1", 40000)}  # fmt: skip
    one, several = event_work(api.runtime.clock)
    return Delivery(
        request=Request(scope), account_id=api.account_id, route="POST events",
        body=json.dumps(body).encode(), parse=service.EventIn.model_validate, work=one,
        together=several if together else None,
    )  # fmt: skip


def _in_one_group(app: IngestApp, api: Api, deliveries: list[Delivery]) -> list[Any]:
    """The deliveries in one group's transaction, as the group commit does them: each its
    (result, replayed) or its refusal."""
    outcomes: list[Any] = []
    with api.runtime.db.write() as session:
        shared: dict[Any, Any] = {}
        for delivery in deliveries:
            try:
                outcomes.append(app.steps(session, delivery, shared))
            except Refused as refused:
                outcomes.append(refused)
        app._finish_group(session, shared)
    assert any(isinstance(outcome, Later) for outcome in outcomes)  # done together, not alone
    settled = []
    for outcome in outcomes:
        if isinstance(outcome, Later):
            assert outcome.outcome is not None
            _ok, value = outcome.outcome
            settled.append(value)
        else:
            settled.append(outcome)
    return settled


def _answer(outcome: Any) -> tuple[int, Any]:
    if isinstance(outcome, Refused):
        return outcome.status, outcome.message
    result, _replayed = outcome
    assert isinstance(result, Result)
    return result.status, result.answer


def _activities(api: Api) -> int:
    with api.runtime.db.read() as session:
        return int(session.exec(select(func.count()).select_from(Activity)).one())


def _setup(api: Api, *emails: str) -> None:
    assert api.put_sequence("seq-1").status_code == 201
    for email in emails:
        assert api.call("POST", "/sequences/seq-1/contacts", {"email": email}).is_success


def test_events_recorded_together_are_answered_as_each_alone(api: Api) -> None:
    """Accepted, unknown contact, unknown sequence, the future, no timezone: the same status and
    message (and the same kind of answer) whether done with the group or alone."""
    _setup(api, "maya@example.com", "li@example.com")
    future = (api.clock() + service.CLOCK_SKEW * 2).isoformat()
    bodies = [
        EVENT,
        {**EVENT, "email": "nobody@example.com"},
        {**EVENT, "sequence": "no-such-seq"},
        {**EVENT, "occurred_at": future},
        {**EVENT, "occurred_at": "2026-11-28T09:30:00"},
        {**EVENT, "email": "LI@example.com", "kind": "clicked", "subject": "  Hello  "},
    ]
    app = IngestApp(api.runtime)
    try:
        together = _in_one_group(
            app, api, [_delivery(api, body, None, together=True) for body in bodies]
        )
        alone = [app.process(_delivery(api, body, None, together=False)) for body in bodies[:1]]
        for body in bodies[1:]:
            try:
                alone.append(app.process(_delivery(api, body, None, together=False)))
            except Refused as refused:
                alone.append(refused)  # type: ignore[arg-type]
    finally:
        app.close()
    for body, grouped, single in zip(bodies, together, alone, strict=True):
        (status, answer), (status_alone, answer_alone) = _answer(grouped), _answer(single)
        assert status == status_alone, body
        if status == 201:
            assert answer.keys() == answer_alone.keys()
            assert answer["enrollment_id"] == answer_alone["enrollment_id"]
            assert answer["state"] == answer_alone["state"]
        else:
            assert answer == answer_alone, body
    assert [_answer(outcome)[0] for outcome in together] == [201, 404, 404, 422, 422, 201]
    assert _activities(api) == 4  # two of the group, two alone
    with api.runtime.db.read() as session:
        subjects = session.exec(select(Activity.subject).order_by(Activity.id)).all()
        assert "Hello" in subjects
        enrollments = session.exec(select(Enrollment)).all()
        assert all(enrollment.next_attempt_at is not None for enrollment in enrollments)


def test_the_same_key_twice_in_one_group_and_a_key_seen_before_are_recorded_once(
    api: Api,
) -> None:
    _setup(api, "maya@example.com")
    app = IngestApp(api.runtime)
    try:
        (before,) = _in_one_group(app, api, [_delivery(api, EVENT, "k0", together=True)])
        assert _answer(before)[0] == 201 and before[1] is False
        outcomes = _in_one_group(
            app, api,
            [_delivery(api, EVENT, key, together=True) for key in ("k1", "k0", "k1", "k2")],
        )  # fmt: skip
    finally:
        app.close()
    first, seen_before, again, other = outcomes
    assert _answer(seen_before) == _answer(before) and seen_before[1] is True
    assert _answer(again) == _answer(first) and again[1] is True and first[1] is False
    assert _answer(other)[0] == 201 and _answer(other) != _answer(first)
    assert _activities(api) == 3  # k0, k1, k2
    with api.runtime.db.read() as session:
        from sync_engine.ingest.models import IngestDelivery

        keys = session.exec(select(IngestDelivery.delivery_key)).all()
        assert sorted(k for k in keys if k) == ["key:k0", "key:k1", "key:k2"]


def test_a_refused_first_copy_leaves_the_second_judged_afresh(api: Api) -> None:
    """Two deliveries with one key in a group: the first refused (its own body is invalid for
    the store), the second is judged on its own and accepted."""
    _setup(api, "maya@example.com")
    app = IngestApp(api.runtime)
    try:
        refused, accepted = _in_one_group(
            app, api,
            [_delivery(api, {**EVENT, "email": "nobody@example.com"}, "k", together=True),
             _delivery(api, EVENT, "k", together=True)],
        )  # fmt: skip
    finally:
        app.close()
    assert _answer(refused)[0] == 404
    assert _answer(accepted)[0] == 201 and accepted[1] is False
    assert _activities(api) == 1


def test_a_reply_in_a_group_goes_the_ordinary_way_beside_the_others(api: Api) -> None:
    _setup(api, "maya@example.com")
    app = IngestApp(api.runtime)
    try:
        outcomes = _in_one_group(
            app, api,
            [_delivery(api, EVENT, "a", together=True),
             _delivery(api, {**EVENT, "kind": "replied"}, "b", together=True),
             _delivery(api, EVENT, "c", together=True)],
        )  # fmt: skip
    finally:
        app.close()
    assert [_answer(outcome)[0] for outcome in outcomes] == [201, 201, 201]
    assert _activities(api) == 3

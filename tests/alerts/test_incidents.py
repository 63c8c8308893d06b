"""Each rule fires once when its condition becomes true and resolves once when it stops, however
often it is evaluated; messages reach a webhook receiver on a real socket, signed, and survive a
receiver that is down for a while. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import select

from sync_engine.alerts.delivery import DeliveryPolicy, deliver_due
from sync_engine.alerts.destinations import add_destination, alert_log, set_rule
from sync_engine.alerts.evaluate import evaluate
from sync_engine.alerts.job import check_alerts
from sync_engine.alerts.models import AlertDelivery, AlertRule, DeliveryState
from sync_engine.models import (
    ConnectionState,
    EngineRun,
    Enrollment,
    SyncAttempt,
)
from sync_engine.runtime import Runtime
from sync_engine.services.enrollments import add_contact, parse_contact
from sync_engine.signing import verify
from sync_engine.verify.models import CheckStatus, ContactCheck
from tests.alerts.receiver import Receiver
from tests.factories import FakeClock, make_sequence, set_connection_state

_REVOKED = "Clockwork answered 401: API key has been revoked"
FAST = DeliveryPolicy(timeout_seconds=2, backoff_base_seconds=10, backoff_cap_seconds=60)


def _webhook(rt: Runtime, account_id: int, url: str) -> str:
    added = add_destination(
        rt, account_id=account_id, fields={"kind": "webhook", "url": url}, actor="test"
    )
    assert added.signing_secret is not None
    return added.signing_secret


def _enrollment(rt: Runtime, account_id: int, email: str) -> int:
    sequence_id = make_sequence(rt, account_id, f"Seq {email}")
    with rt.db.write() as session:
        enrollment = add_contact(
            session=session, sequence_id=sequence_id, contact=parse_contact({"email": email}),
        )  # fmt: skip
    assert enrollment.id is not None
    return enrollment.id


# Each rule: (make its condition true, make it false again).
Setup = Callable[[Runtime, int, FakeClock], None]


def _rejected_on(rt: Runtime, account_id: int, clock: FakeClock) -> None:
    set_connection_state(rt, account_id, ConnectionState.NEEDS_ATTENTION, last_error=_REVOKED)


def _rejected_off(rt: Runtime, account_id: int, clock: FakeClock) -> None:
    set_connection_state(rt, account_id, ConnectionState.CONNECTED, last_error=_REVOKED)


def _attempts(rt: Runtime, account_id: int, outcome: str, count: int) -> None:
    enrollment_id = _enrollment(rt, account_id, f"{outcome}{count}@example.com")
    now = rt.clock()
    with rt.db.write() as session:
        for _ in range(count):
            session.add(
                SyncAttempt(
                    enrollment_id=enrollment_id,
                    account_id=account_id,
                    started_at=now,
                    finished_at=now,
                    outcome=outcome,
                )
            )


def _failing_on(rt: Runtime, account_id: int, clock: FakeClock) -> None:
    _attempts(rt, account_id, "synced", 6)
    _attempts(rt, account_id, "failed", 6)  # 50 % > 25 %


def _failing_off(rt: Runtime, account_id: int, clock: FakeClock) -> None:
    clock.advance(3600 + 60)  # the failures leave the last hour
    _attempts(rt, account_id, "synced", 12)


def _stalled_on(rt: Runtime, account_id: int, clock: FakeClock) -> None:
    set_connection_state(rt, account_id, ConnectionState.CONNECTED, last_error=_REVOKED)
    _enrollment(rt, account_id, "waiting@example.com")  # queued, due now
    clock.advance(901)


def _stalled_off(rt: Runtime, account_id: int, clock: FakeClock) -> None:
    with rt.db.write() as session:
        for row in session.exec(select(Enrollment).where(Enrollment.account_id == account_id)):
            row.status, row.next_attempt_at = "synced", None
            session.add(row)


def _heartbeat(rt: Runtime) -> None:
    now = rt.clock()
    with rt.db.write() as session:
        session.add(
            EngineRun(started_at=now, finished_at=now, trigger="scheduler", worker="w", counts={})
        )


def _stale_on(rt: Runtime, account_id: int, clock: FakeClock) -> None:
    _heartbeat(rt)
    clock.advance(121)


def _stale_off(rt: Runtime, account_id: int, clock: FakeClock) -> None:
    _heartbeat(rt)


def _drift_on(rt: Runtime, account_id: int, clock: FakeClock) -> None:
    _enrollment(rt, account_id, "drifted@example.com")
    with rt.db.write() as session:
        contact_id = session.exec(select(Enrollment.contact_id)).first()
        assert contact_id is not None
        session.add(
            ContactCheck(
                contact_id=contact_id,
                account_id=account_id,
                status=CheckStatus.DRIFTED,
                reason="The person was deleted in Clockwork",
            )
        )


def _drift_off(rt: Runtime, account_id: int, clock: FakeClock) -> None:
    with rt.db.write() as session:
        for row in session.exec(select(ContactCheck)):
            row.status = CheckStatus.REPAIRED
            session.add(row)


CASES: dict[AlertRule, tuple[Setup, Setup]] = {
    AlertRule.CREDENTIALS_REJECTED: (_rejected_on, _rejected_off),
    AlertRule.FAILURE_RATE: (_failing_on, _failing_off),
    AlertRule.QUEUE_STALLED: (_stalled_on, _stalled_off),
    AlertRule.HEARTBEAT_STALE: (_stale_on, _stale_off),
    AlertRule.DRIFT_FOUND: (_drift_on, _drift_off),
}


@pytest.mark.parametrize("rule", list(CASES), ids=lambda r: r.value)
def test_each_rule_fires_once_and_resolves_once_at_a_receiver(
    rt: Runtime, clock: FakeClock, account_id: int, receiver: Receiver, rule: AlertRule
) -> None:
    secret = _webhook(rt, account_id, receiver.url)
    turn_on, turn_off = CASES[rule]
    for _ in range(3):
        check_alerts(rt, policy=FAST)
    assert receiver.received == [], "nothing is wrong yet"

    turn_on(rt, account_id, clock)
    for _ in range(3):  # evaluated at every interval: one message, not one per pass
        check_alerts(rt, policy=FAST)
        clock.advance(1)
    assert [r.json()["rule"] for r in receiver.received] == [rule.value]
    fired = receiver.received[0]
    assert fired.json()["event"] == "fired" and fired.json()["account"]["id"] == account_id
    verify(
        secret, fired.headers.get("webhook-id"), fired.headers.get("webhook-timestamp"),
        fired.headers.get("webhook-signature"), fired.body, now=clock().timestamp(),
    )  # fmt: skip
    assert fired.headers["webhook-id"] == fired.json()["id"]

    turn_off(rt, account_id, clock)
    for _ in range(3):
        check_alerts(rt, policy=FAST)
        clock.advance(1)
    events = [(r.json()["rule"], r.json()["event"]) for r in receiver.received]
    assert events == [(rule.value, "fired"), (rule.value, "resolved")]
    with rt.db.read() as session:
        log = alert_log(session=session, account_id=account_id)
    assert [(row.event, row.state) for row in log] == [
        ("resolved", DeliveryState.DELIVERED),
        ("fired", DeliveryState.DELIVERED),
    ]


def test_a_rule_switched_off_does_not_fire_and_a_threshold_is_the_accounts_own(
    rt: Runtime, clock: FakeClock, account_id: int, receiver: Receiver
) -> None:
    _webhook(rt, account_id, receiver.url)
    with rt.db.write() as session:
        set_rule(session=session, account_id=account_id, rule="credentials_rejected",
                 enabled=False, actor="test")  # fmt: skip
        set_rule(session=session, account_id=account_id, rule="failure_rate", threshold=0.6,
                 actor="test")  # fmt: skip
    _rejected_on(rt, account_id, clock)
    _failing_on(rt, account_id, clock)  # 50 %: under this account's 60 %
    check_alerts(rt, policy=FAST)
    assert receiver.received == []
    _attempts(rt, account_id, "retrying", 12)  # 18 of 24 fail: 75 %
    check_alerts(rt, policy=FAST)
    assert [r.json()["rule"] for r in receiver.received] == ["failure_rate"]


def test_a_message_survives_a_receiver_that_is_down_for_a_while(
    rt: Runtime, clock: FakeClock, account_id: int
) -> None:
    receiver = Receiver()  # not up yet: connections are refused
    _webhook(rt, account_id, receiver.url)
    _rejected_on(rt, account_id, clock)
    check_alerts(rt, policy=FAST)
    for _ in range(3):  # down for several retries, each later than the one before
        with rt.db.read() as session:
            row = session.exec(select(AlertDelivery)).one()
        assert row.state == DeliveryState.PENDING and row.next_attempt_at is not None
        assert "could not reach the destination" in (row.last_error or "")
        assert "alerts-path-secret" not in (row.last_error or ""), "the URL is a secret"
        assert deliver_due(rt, policy=FAST).delivered == 0, "not due yet: no early retry"
        clock.now = row.next_attempt_at
        deliver_due(rt, policy=FAST)
    receiver.up()
    try:
        clock.advance(120)
        counts = deliver_due(rt, policy=FAST)
        assert counts.delivered == 1
        clock.advance(3600)
        check_alerts(rt, policy=FAST)
        assert [r.json()["event"] for r in receiver.received] == ["fired"], "delivered once"
        with rt.db.read() as session:
            row = session.exec(select(AlertDelivery)).one()
        assert (row.state, row.attempts, row.last_status) == (DeliveryState.DELIVERED, 5, 200)
    finally:
        receiver.down()


def test_a_receiver_that_keeps_failing_is_given_up_on_and_the_log_says_why(
    rt: Runtime, clock: FakeClock, account_id: int, receiver: Receiver
) -> None:
    receiver.status = 503
    _webhook(rt, account_id, receiver.url)
    _rejected_on(rt, account_id, clock)
    policy = DeliveryPolicy(timeout_seconds=2, max_attempts=3, backoff_base_seconds=1)
    check_alerts(rt, policy=policy)
    for _ in range(5):
        clock.advance(600)
        deliver_due(rt, policy=policy)
    with rt.db.read() as session:
        row = session.exec(select(AlertDelivery)).one()
    assert (row.state, row.attempts, row.last_status) == (DeliveryState.FAILED, 3, 503)
    assert row.last_error and "answered 503" in row.last_error


def test_an_incident_is_opened_once_when_two_evaluations_race(
    rt: Runtime, clock: FakeClock, account_id: int, receiver: Receiver
) -> None:
    _webhook(rt, account_id, receiver.url)
    _rejected_on(rt, account_id, clock)
    first, second = evaluate(rt), evaluate(rt)
    assert len(first) == 1 and second == []
    with rt.db.read() as session:
        assert len(session.exec(select(AlertDelivery)).all()) == 1


def test_resolved_message_names_the_incident_and_when_it_started(
    rt: Runtime, clock: FakeClock, account_id: int, receiver: Receiver
) -> None:
    _webhook(rt, account_id, receiver.url)
    _rejected_on(rt, account_id, clock)
    started = clock()
    check_alerts(rt, policy=FAST)
    clock.advance(300)
    _rejected_off(rt, account_id, clock)
    check_alerts(rt, policy=FAST)
    resolved = receiver.received[-1].json()
    assert resolved["event"] == "resolved"
    assert resolved["title"] == "Clockwork rejected the credentials of Acme Talent"
    assert resolved["since"] == started.isoformat()
    assert resolved["at"] == (started + timedelta(seconds=300)).isoformat()

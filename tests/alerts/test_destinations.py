"""Destinations: Slack's and e-mail's formats on real sockets, the test alert, checked URLs, secrets
kept out of sight, and removal."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from sync_engine.alerts.delivery import DeliveryPolicy, send_webhook
from sync_engine.alerts.destinations import (
    add_destination,
    alert_log,
    list_destinations,
    remove_destination,
    send_test,
)
from sync_engine.alerts.job import check_alerts
from sync_engine.alerts.models import AlertDelivery, AlertDestination, DeliveryState
from sync_engine.models import AuditEntry, ConnectionState
from sync_engine.runtime import Runtime
from sync_engine.services.errors import InvalidInputError
from sync_engine.signing import verify
from tests.alerts.receiver import Receiver
from tests.alerts.smtp_server import SmtpServer
from tests.factories import FakeClock, set_connection_state


def test_a_slack_destination_gets_slacks_incoming_webhook_format(
    rt: Runtime, account_id: int, receiver: Receiver
) -> None:
    add_destination(
        rt, account_id=account_id, fields={"kind": "slack", "url": receiver.url}, actor="ana"
    )
    counts = send_test(rt, account_id=account_id, actor="ana")
    assert counts.delivered == 1
    (got,) = receiver.received
    assert got.json() == {
        "text": "[Clockwork Sync] Test: Test alert for Acme Talent\n"
        "Sent by ana to check that alerts arrive here."
    }
    assert "webhook-signature" not in got.headers


def test_an_email_destination_sends_a_plain_text_mail_over_smtp(
    rt: Runtime, account_id: int, clock: FakeClock
) -> None:
    with SmtpServer() as smtp:
        add_destination(
            rt, account_id=account_id, actor="ana",
            fields={
                "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                "smtp_starttls": False, "email_from": "alerts@example.com",
                "email_to": "cs@example.com, lead@example.com",
            },
        )  # fmt: skip
        set_connection_state(rt, account_id, ConnectionState.NEEDS_ATTENTION, last_error="401")
        check_alerts(rt)
    (mail,) = smtp.mails
    assert mail.sender == "alerts@example.com"
    assert mail.recipients == ["cs@example.com", "lead@example.com"]
    message = email.message_from_string(mail.data, policy=email.policy.default)
    assert message["Subject"].strip() == (
        "[Clockwork Sync] Alert: Clockwork rejected the credentials of Acme Talent"
    )
    body = message.get_body()
    assert body is not None and "reconnects it on the Integrations page" in body.get_content()


def test_a_webhook_test_alert_is_signed_and_a_receiver_that_is_down_is_said_plainly(
    rt: Runtime, account_id: int, clock: FakeClock
) -> None:
    receiver = Receiver()
    added = add_destination(
        rt, account_id=account_id, fields={"kind": "webhook", "url": receiver.url}, actor="ana"
    )
    assert added.signing_secret and added.signing_secret.startswith("whsec_")
    down = send_test(rt, account_id=account_id, actor="ana")
    (result,) = down.results.values()
    assert not result.delivered and result.error
    assert result.error.startswith("could not reach the destination")
    with receiver:
        up = send_test(rt, account_id=account_id, destination_id=added.destination.id, actor="ana")
        assert up.delivered == 1
        (got,) = receiver.received
        verify(
            added.signing_secret, got.headers["webhook-id"], got.headers["webhook-timestamp"],
            got.headers["webhook-signature"], got.body, now=clock().timestamp(),
        )  # fmt: skip
        assert got.json()["type"] == "alert.test"
    with rt.db.read() as session:
        log = alert_log(session=session, account_id=account_id)
    assert [(row.event, row.state) for row in log] == [
        ("test", DeliveryState.DELIVERED),
        ("test", DeliveryState.PENDING),  # the first test is retried like any alert
    ]


def test_targets_and_secrets_are_stored_encrypted_and_shown_masked(
    rt: Runtime, account_id: int
) -> None:
    url = "https://hooks.slack.com/services/T000/B000/XXXXXXXXsecretpart"
    add_destination(rt, account_id=account_id, fields={"kind": "slack", "url": url}, actor="ana")
    with rt.db.read() as session:
        (row,) = list_destinations(session=session, account_id=account_id)
        audit = session.exec(select(AuditEntry)).all()
    assert row.target_hint.startswith("https://hooks.slack.com/…")
    assert "secretpart" not in row.target_hint and "secretpart" not in row.target_token
    assert rt.box.decrypt(row.target_token) == url
    assert not any("secretpart" in (entry.new_value or "") for entry in audit)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "webhook", "url": "http://alerts.example.com/x"}, "unencrypted"),
        ({"kind": "webhook", "url": "ftp://example.com/x"}, "must be an http"),
        ({"kind": "slack"}, "needs its URL"),
        ({"kind": "pager", "url": "https://x.example.com"}, "kind"),
        ({"kind": "email", "smtp_host": "mail.example.com"}, "a sender and at least one"),
        ({"kind": "email", "email_to": "not-an-address"}, "email_to"),
    ],
)
def test_a_bad_destination_is_refused_with_one_line(
    rt: Runtime, account_id: int, fields: dict[str, str], message: str
) -> None:
    rt.settings = rt.settings.model_copy(update={"allow_insecure_http": False})
    with pytest.raises(InvalidInputError, match=message) as raised:
        add_destination(rt, account_id=account_id, fields=fields, actor="ana")
    assert "\n" not in str(raised.value)


def test_removing_a_destination_keeps_its_log_and_stops_its_retries(
    rt: Runtime, account_id: int, clock: FakeClock
) -> None:
    receiver = Receiver()  # down
    added = add_destination(
        rt, account_id=account_id, fields={"kind": "webhook", "url": receiver.url}, actor="ana"
    )
    send_test(rt, account_id=account_id, actor="ana")
    assert added.destination.id is not None
    with rt.db.write() as session:
        remove_destination(session=session, destination_id=added.destination.id, actor="ana")
    with rt.db.read() as session:
        (row,) = session.exec(select(AlertDelivery)).all()
        assert session.exec(select(AlertDestination)).all() == []
    assert (row.state, row.destination_id) == (DeliveryState.FAILED, None)
    assert row.destination_hint.startswith("http://127.0.0.1")


def test_a_test_alert_without_a_destination_says_to_add_one(rt: Runtime, account_id: int) -> None:
    with pytest.raises(InvalidInputError, match="no alert destination"):
        send_test(rt, account_id=account_id, actor="ana")


def test_a_destinations_refusal_is_kept_without_its_control_characters() -> None:
    """What a failing destination answers goes into the delivery's reason (the log, the Alerts
    page): its terminal escapes and line breaks cannot rewrite them."""
    with Receiver() as receiver:
        receiver.status = 500
        receiver.body = b"down\x1b[2J\x1b]0;pwned\x07\r\nFAKE LOG LINE\xc2\x85"
        sent = send_webhook(
            receiver.url, "whsec_" + "a" * 32, {"alert": "test"}, message_id="msg_1",
            at=datetime(2026, 12, 1, tzinfo=UTC), policy=DeliveryPolicy(timeout_seconds=5),
        )  # fmt: skip
    assert not sent.delivered and sent.error is not None
    assert "down" in sent.error and "FAKE LOG LINE" in sent.error
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in sent.error), sent.error

"""The dashboard's Alerts page: an admin adds a webhook, sees its secret once, sends a test alert
that a receiver on a real socket gets; a raised alert and the log are shown; a viewer sees them
but no configuration."""

from __future__ import annotations

import pytest

from dashboard.app_pages import alerts as alerts_page
from sync_engine.alerts.destinations import add_destination
from sync_engine.alerts.job import check_alerts
from sync_engine.alerts.models import DeliveryState
from sync_engine.models import ConnectionState
from sync_engine.runtime import Runtime
from tests.alerts.receiver import Receiver
from tests.dashboard.conftest import (  # noqa: F401  (fixtures)
    VIEWER,
    _served_on_loopback,
    open_page,
    store,
    texts,
)
from tests.factories import make_account, set_connection_state


def test_an_admin_adds_a_webhook_and_a_test_alert_arrives(
    store: Runtime,  # noqa: F811
    receiver: Receiver,
) -> None:
    make_account(store)
    app = open_page("alerts")
    assert "Nothing needs attention right now." in texts(app)
    assert "No alert has been sent for this account yet." in texts(app)
    assert "Nothing matches." not in texts(app)  # no pager over an empty log
    url_box = next(box for box in app.text_input if box.label == "URL")
    url_box.input(receiver.url)
    next(b for b in app.button if b.label == "Add destination").click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert any(code.value.startswith("whsec_") for code in app.code), "the secret, shown once"
    assert "shown only once" in texts(app)
    next(b for b in app.button if b.label == "Send a test alert").click()
    app.run()
    assert not any(code.value.startswith("whsec_") for code in app.code), "and only once"
    assert "The test alert arrived." in texts(app)
    assert [r.json()["type"] for r in receiver.received] == ["alert.test"]
    log = app.dataframe[-1].value
    assert list(log["What"]) == ["Test"] and list(log["Delivery"]) == ["Delivered"]


def test_a_raised_alert_and_the_log_are_shown_to_a_viewer_without_configuration(
    store: Runtime,  # noqa: F811
    receiver: Receiver,
) -> None:
    account_id = make_account(store)
    add_destination(
        store, account_id=account_id, fields={"kind": "slack", "url": receiver.url}, actor="t"
    )
    set_connection_state(
        store, account_id, ConnectionState.NEEDS_ATTENTION, last_error="Clockwork answered 401"
    )
    check_alerts(store)
    app = open_page("alerts", user=VIEWER)
    shown = texts(app)
    assert "Clockwork rejects the credentials" in shown
    headings = [heading.value for heading in app.subheader]
    assert "Where alerts go" not in headings and "Rules" not in headings
    assert "Alert log" in headings
    log = app.dataframe[-1].value
    assert list(log["What"]) == ["Alert"]
    assert list(log["Alert"]) == ["Clockwork rejected the credentials of Acme Talent"]
    assert "alerts-path-secret" not in " ".join(log["Sent to"])


@pytest.mark.parametrize(
    ("state", "attempts", "shown"),
    [
        (DeliveryState.DELIVERED, 1, "Delivered"),
        (DeliveryState.PENDING, 0, "Sending"),
        (DeliveryState.PENDING, 1, "Retrying (1 attempt so far)"),
        (DeliveryState.PENDING, 2, "Retrying (2 attempts so far)"),
        (DeliveryState.FAILED, 1, "Gave up after 1 attempt"),
        (DeliveryState.FAILED, 8, "Gave up after 8 attempts"),
    ],
)
def test_the_log_says_how_a_delivery_went_and_counts_its_attempts(
    state: DeliveryState, attempts: int, shown: str
) -> None:
    assert alerts_page._delivery(state, attempts) == shown

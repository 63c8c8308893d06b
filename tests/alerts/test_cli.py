"""``cwsync alerts``: add a destination, list, switch a rule, send a test, read the log, check."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.alerts.receiver import Receiver

Run = Callable[..., tuple[int, str, str]]


def test_configure_a_webhook_list_it_and_send_a_test_alert(cli: Run, receiver: Receiver) -> None:
    assert cli("account", "add", "Acme Talent")[0] == 0
    code, out, err = cli("alerts", "add", "Acme Talent", "webhook", "--url", receiver.url)
    assert code == 0, err
    destination_id = int(out.strip())
    assert "signing secret (shown once" in err and "whsec_" in err

    code, out, _ = cli("alerts", "rule", "Acme Talent", "queue_stalled", "--threshold", "600")
    assert code == 0
    code, out, _ = cli("alerts", "list", "Acme Talent", "--json")
    document = json.loads(out)
    assert [d["id"] for d in document["destinations"]] == [destination_id]
    assert "alerts-path-secret" not in out, "the URL's path is masked"
    rules = {r["rule"]: r for r in document["rules"]}
    assert rules["queue_stalled"]["threshold"] == 600
    assert rules["credentials_rejected"]["enabled"] and not rules["credentials_rejected"]["firing"]

    code, _, err = cli("alerts", "test", "Acme Talent")
    assert code == 0, err
    assert "delivered" in err
    assert [r.json()["type"] for r in receiver.received] == ["alert.test"]
    code, out, _ = cli("alerts", "log", "Acme Talent")
    assert "\ttest\ttest\tdelivered\t1\t" in out


def test_a_test_alert_that_does_not_arrive_exits_1_with_the_reason(cli: Run) -> None:
    down = Receiver()
    cli("account", "add", "Acme Talent")
    cli("alerts", "add", "Acme Talent", "slack", "--url", down.url)
    code, _, err = cli("alerts", "test", "Acme Talent")
    assert code == 1
    assert "not delivered: could not reach the destination" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("alerts", "add", "Acme Talent", "pager"),
            "'pager' is not one of 'webhook', 'slack', 'email'",
        ),
        (("alerts", "add", "Acme Talent", "webhook"), "needs its URL"),
        (("alerts", "rule", "Acme Talent", "failure_rate", "--threshold", "2"), "out of range"),
        (("alerts", "rule", "Acme Talent", "credentials_rejected"), "say --on, --off"),
        (("alerts", "test", "Acme Talent"), "no alert destination"),
        (("alerts", "remove", "7"), "no alert destination 7"),
        (("alerts", "list", "Nobody"), "no account 'Nobody'"),
    ],
)
def test_bad_input_is_one_line_on_stderr(cli: Run, args: tuple[str, ...], message: str) -> None:
    cli("account", "add", "Acme Talent")
    code, _, err = cli(*args)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err

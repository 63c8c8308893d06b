"""Demo mode refuses a store that holds a real Clockwork firm's credentials: the pure check on
base URLs, and the store's connections it is given (on both backends)."""

from __future__ import annotations

import pytest

from clockwork_simulator import mock_transport
from sync_engine.demo import StoredConnection, demo_refusal, is_simulator_url, stored_connections
from sync_engine.services import accounts
from tests.factories import make_connected_account, make_runtime, make_sim_state


@pytest.mark.parametrize(
    ("url", "simulator"),
    [
        ("http://127.0.0.1:8765", True),
        ("http://127.0.0.1:8765/", True),
        ("http://127.1.2.3:9000", True),
        ("http://[::1]:8765", True),
        ("http://localhost:8765", True),
        ("https://LOCALHOST", True),
        ("https://api.clockworkrecruiting.com", False),
        ("https://acme.clockworkrecruiting.com/api", False),
        ("http://10.0.0.5:8765", False),
        ("http://127.0.0.1.evil.com", False),
        ("http://localhost.evil.com", False),
        ("ftp://127.0.0.1", False),
        ("not a url", False),
        ("", False),
        ("http://[::1", False),
    ],
)
def test_only_loopback_urls_count_as_the_simulator(url: str, simulator: bool) -> None:
    assert is_simulator_url(url) is simulator


def test_the_configured_simulator_host_counts_as_the_simulator() -> None:
    assert is_simulator_url("http://0.0.0.0:8765", simulator_host="0.0.0.0")
    assert not is_simulator_url("http://0.0.0.0:8765")


def test_a_remote_simulator_host_never_makes_a_remote_url_count_as_the_simulator() -> None:
    host = "api.clockworkrecruiting.com"
    assert not is_simulator_url(f"https://{host}", simulator_host=host)
    assert not is_simulator_url("http://10.0.0.5:8765", simulator_host="10.0.0.5")


def test_a_store_of_simulator_connections_may_run_the_demo() -> None:
    connections = [
        StoredConnection("Acme Talent", "http://127.0.0.1:8765"),
        StoredConnection("Initech", "http://localhost:8765"),
    ]
    assert demo_refusal(connections) is None
    assert demo_refusal([]) is None


def test_a_real_firm_stops_the_demo_and_the_message_says_what_to_do() -> None:
    message = demo_refusal(
        [
            StoredConnection("Acme Talent", "http://127.0.0.1:8765"),
            StoredConnection("Real Customer", "https://api.clockworkrecruiting.com"),
        ]
    )
    assert message is not None
    assert "Demo mode refuses to start" in message
    assert "Real Customer (https://api.clockworkrecruiting.com)" in message
    assert "Acme Talent" not in message
    assert "CWSYNC_DEMO=false" in message and "CWSYNC_DATABASE_URL" in message


def test_many_real_firms_are_summarised() -> None:
    message = demo_refusal(
        StoredConnection(f"Customer {i}", f"https://c{i}.example.com") for i in range(5)
    )
    assert message is not None and "and 2 more" in message and "Customer 3" not in message


def test_stored_connections_are_those_holding_credentials(database_url: str) -> None:
    runtime = make_runtime(database_url, transport=mock_transport(make_sim_state()))
    try:
        make_connected_account(
            runtime, "Real Customer", base_url="https://api.clockworkrecruiting.com"
        )
        make_connected_account(runtime, "Demo", base_url="http://127.0.0.1:8765")
        gone = make_connected_account(runtime, "Former", base_url="https://former.example.com")
        with runtime.db.write() as session:
            accounts.disconnect(session=session, account_id=gone, actor="t")

        found = stored_connections(runtime)

        assert sorted(found, key=lambda c: c.account) == [
            StoredConnection("Demo", "http://127.0.0.1:8765"),
            StoredConnection("Real Customer", "https://api.clockworkrecruiting.com"),
        ]
        refusal = demo_refusal(found)
        assert refusal is not None and "Real Customer" in refusal and "Former" not in refusal
    finally:
        runtime.close()

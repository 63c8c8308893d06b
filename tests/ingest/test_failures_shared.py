"""The failed-authentication allowance holds across processes: two ``cwsync serve`` processes
on one store count an address's failures together (``login_failure``), so alternating between
them gains a guesser at most one more guess per process, not a second allowance."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from clockwork_simulator import SimulatorServer, SimulatorState
from tests import loopback
from tests.factories import make_connected_account, make_runtime

pytestmark = pytest.mark.slow

ALLOWANCE = 4


@pytest.fixture
def two_servers(
    sqlite_url: str, sim_server: SimulatorServer, sim: SimulatorState, tmp_path: Path
) -> Iterator[tuple[str, str, int]]:
    runtime = make_runtime(sqlite_url)
    account_id = make_connected_account(runtime, "Acme Talent", base_url=sim_server.base_url)
    key = runtime.settings.encryption_key
    assert key is not None
    runtime.close()
    env = {**os.environ, "CWSYNC_DATABASE_URL": sqlite_url, "CWSYNC_DEMO": "false",
           "CWSYNC_ENCRYPTION_KEY": key.get_secret_value()}  # fmt: skip
    urls = []
    with ExitStack() as servers:
        for n in range(2):
            port = loopback.free_port()
            urls.append(f"http://127.0.0.1:{port}")
            command = [sys.executable, "-m", "sync_engine", "serve", "--port", str(port),
                       "--auth-failures", str(ALLOWANCE)]  # fmt: skip
            log = tmp_path / f"serve-{n}.log"
            url = f"{urls[-1]}/openapi.json"
            servers.enter_context(loopback.running(command, url=url, log=log, seconds=60, env=env))
        yield urls[0], urls[1], account_id


def test_two_serve_processes_on_one_store_share_the_failed_authentication_allowance(
    two_servers: tuple[str, str, int],
) -> None:
    first, second, account_id = two_servers
    statuses = []
    for n in range(3 * ALLOWANCE):  # alternating: each process alone would allow ALLOWANCE
        base = (first, second)[n % 2]
        answer = httpx.post(
            f"{base}/v1/accounts/{account_id}/events",
            json={"kind": "opened", "sequence": "s", "email": "a@example.com"},
            headers={"Authorization": f"Bearer cwk_guess{n}"}, timeout=10,
        )  # fmt: skip
        statuses.append(answer.status_code)
    checked = statuses.count(401)
    # The allowance, and at most one more guess in the process that had not seen the lock yet.
    assert ALLOWANCE <= checked <= ALLOWANCE + 1, statuses
    assert statuses[-4:] == [429] * 4, statuses
    assert int(answer.headers["retry-after"]) > 60  # the 2-minute lockout

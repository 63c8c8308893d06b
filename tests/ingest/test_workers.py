"""`cwsync serve --workers N`: N processes serve one port; a stop (SIGTERM) stops them all, a
worker that dies stops the others and the command fails; a port already taken is one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.ingest import credentials
from sync_engine.ingest.service import link_sequence
from sync_engine.services import accounts, enrollments
from tests import loopback
from tests.factories import make_connected_account, make_runtime

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


class Served:
    def __init__(
        self, process: subprocess.Popen[bytes], base_url: str, token: str, log: Path
    ) -> None:
        self.process, self.base_url, self.token, self.log = process, base_url, token, log


@pytest.fixture
def served(
    sqlite_url: str, sim_server: SimulatorServer, sim: SimulatorState, tmp_path: Path
) -> Iterator[Served]:
    runtime = make_runtime(sqlite_url)
    account_id = make_connected_account(runtime, "Acme Talent", base_url=sim_server.base_url)
    with runtime.db.write() as session:
        sequence = accounts.add_sequence(
            session=session, account_id=account_id, name="S", actor="test"
        )
        assert sequence.id is not None
        link_sequence(session=session, account_id=account_id, ref="seq-1", sequence_id=sequence.id)
        token = credentials.create_token(
            session=session, account_id=account_id, name="t", actor="test"
        ).token
    enrollments.import_contacts(
        session_factory=runtime.db.write, sequence_id=sequence.id,
        rows=[(i, {"email": f"c{i}@example.com"}) for i in range(8)],
    )  # fmt: skip
    key = runtime.settings.encryption_key
    assert key is not None
    runtime.close()
    port = loopback.free_port()
    env = {**os.environ, "CWSYNC_DATABASE_URL": sqlite_url, "CWSYNC_DEMO": "false",
           "CWSYNC_ENCRYPTION_KEY": key.get_secret_value()}  # fmt: skip
    base_url, log = f"http://127.0.0.1:{port}", tmp_path / "serve.log"
    with loopback.running(
        [sys.executable, "-m", "sync_engine", "serve", "--port", str(port), "--workers", "2"],
        url=f"{base_url}/openapi.json", log=log, seconds=60, env=env,
    ) as process:  # fmt: skip
        yield Served(process, f"{base_url}/v1/accounts/{account_id}", token, log)


def test_two_workers_serve_one_port_and_a_sigterm_stops_both(served: Served) -> None:
    workers = _children(served.process.pid)
    assert len(workers) == 2
    headers = {"Authorization": f"Bearer {served.token}"}
    for n in range(8):  # a connection each: the kernel hands them to either worker
        with httpx.Client(headers=headers) as client:
            answer = client.post(
                f"{served.base_url}/events",
                json={"kind": "opened", "sequence": "seq-1", "email": f"c{n}@example.com"},
            )
        assert answer.status_code == 201, answer.text
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(20) == 0
    assert not any(_alive(pid) for pid in workers)


def test_a_worker_that_dies_stops_the_others_and_the_command_fails(served: Served) -> None:
    first, second = _children(served.process.pid)
    os.kill(first, signal.SIGKILL)
    assert served.process.wait(20) == 1
    assert not _alive(second)
    assert b"stopping the others" in served.log.read_bytes()


def test_workers_whose_supervisor_is_killed_outright_stop(served: Served) -> None:
    workers = _children(served.process.pid)
    served.process.kill()
    served.process.wait(10)
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def test_a_port_already_taken_is_one_line(served: Served) -> None:
    port = served.base_url.split(":")[2].split("/")[0]
    answer = subprocess.run(
        [sys.executable, "-m", "sync_engine", "serve", "--port", port],
        env={**os.environ, "CWSYNC_DATABASE_URL": "sqlite://", "CWSYNC_DEMO": "false"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert answer.returncode == 2
    assert answer.stderr.splitlines()[-1].startswith(f"cwsync: cannot listen on 127.0.0.1:{port}:")

"""Events keep arriving while the engine process is killed (SIGKILL, mid-pass) and restarted:
every event the API accepted reaches Clockwork as exactly one note, and nothing else does.

The API runs in this process on a real socket; ``cwsync sync --until-idle`` runs as its own
process against the simulator (with latency, so a kill lands while requests are in flight) and
is killed three times, each time once Clockwork has received a note or a person from that run.
A sender thread posts events the whole time (each one twice, as a retrying platform would) and
keeps posting while no engine runs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from clockwork_simulator import FaultConfig, SimulatorServer, SimulatorState
from sync_engine.engine.pipeline import NOTE_KEY_PREFIX
from sync_engine.ingest import credentials
from sync_engine.ingest.server import IngestServer
from sync_engine.models import Activity, ActivityState
from sync_engine.runtime import build_runtime
from tests.factories import SIM_FIRM, make_connected_account, make_settings

pytestmark = pytest.mark.slow

KILLS = 3
CONTACTS = 8
_MARKER = re.compile(re.escape(NOTE_KEY_PREFIX) + r"([0-9a-f]+)")
_KINDS = ("sent", "opened", "clicked", "replied")


class Sender(threading.Thread):
    """Posts events until stopped, each delivery twice under one Idempotency-Key; keeps the ids
    of the activities the API accepted."""

    def __init__(self, client: httpx.Client) -> None:
        super().__init__(name="event-sender", daemon=True)
        self.client = client
        self.accepted: set[int] = set()
        self.problems: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            event = {"kind": _KINDS[n % len(_KINDS)], "sequence": "seq-1",
                     "email": f"lead{n % CONTACTS}@example.com", "subject": f"Event {n}"}  # fmt: skip
            answers = [
                self.client.post("/events", json=event, headers={"Idempotency-Key": f"ev-{n}"})
                for _ in range(2)
            ]
            ids = {answer.json().get("activity_id") for answer in answers}
            if [a.status_code for a in answers] != [201, 201] or len(ids) != 1:
                self.problems.append(f"event {n}: {[a.text for a in answers]}")
            else:
                self.accepted.add(int(ids.pop()))
            n += 1
            time.sleep(0.03)


def _engine(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sync_engine", "sync", "--until-idle", "--timeout", "120"],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _writes(sim: SimulatorState) -> int:
    routes = sim.request_counts(SIM_FIRM)["routes"]
    return int(routes.get("POST /people", 0)) + int(routes.get("POST /people/{id}/notes", 0))


def test_events_accepted_while_the_engine_is_killed_and_restarted_are_each_noted_once(
    database_url: str, sim_server: SimulatorServer, sim: SimulatorState, tmp_path: Path
) -> None:
    settings = make_settings(database_url)
    runtime = build_runtime(settings)  # the real clock: the engine process runs on it too
    assert settings.encryption_key is not None
    env = {
        **os.environ,
        "CWSYNC_DATABASE_URL": database_url,
        "CWSYNC_ENCRYPTION_KEY": settings.encryption_key.get_secret_value(),
        "CWSYNC_DEMO": "false",
        "CWSYNC_ALLOW_INSECURE_HTTP": "true",
        "CWSYNC_LEASE_SECONDS": "2",
        "CWSYNC_HTTP_TIMEOUT_SECONDS": "0.5",
        "CWSYNC_DEFAULT_MAX_RPS": "40",
        "CWSYNC_BACKOFF_BASE_SECONDS": "0.2",
        "CWSYNC_BACKOFF_MAX_SECONDS": "1",
    }
    sim_server.set_faults(FaultConfig(latency_ms=40, jitter_ms=20))
    try:
        account_id = make_connected_account(runtime, base_url=sim_server.base_url)
        with runtime.db.write() as session:
            token = credentials.create_token(
                session=session, account_id=account_id, name="crash", actor="test",
            ).token  # fmt: skip
        with (
            IngestServer(runtime) as server,
            httpx.Client(
                base_url=f"{server.base_url}/v1/accounts/{account_id}", timeout=30,
                headers={"Authorization": f"Bearer {token}"},
            ) as client,
        ):  # fmt: skip
            assert client.put("/sequences/seq-1", json={"name": "Crash"}).status_code == 201
            leads = [{"email": f"lead{i}@example.com"} for i in range(CONTACTS)]
            added = client.post("/sequences/seq-1/contacts/batch", json={"contacts": leads})
            assert added.json()["accepted"] == CONTACTS
            sender = Sender(client)
            sender.start()
            kills = 0
            try:
                for _ in range(3 * KILLS):  # a run may end its backlog before the kill: again
                    if kills == KILLS:
                        break
                    time.sleep(0.5)  # events pile up while no engine runs
                    before = _writes(sim)
                    engine = _engine(env, tmp_path)
                    deadline = time.monotonic() + 30
                    while _writes(sim) == before and time.monotonic() < deadline:
                        time.sleep(0.005)
                    if engine.poll() is None:
                        engine.send_signal(signal.SIGKILL)
                        kills += 1
                    engine.wait(30)
            finally:
                sender.stop.set()
                sender.join(30)
            final = subprocess.run(
                [sys.executable, "-m", "sync_engine", "sync", "--until-idle", "--timeout", "120"],
                env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180,
            )  # fmt: skip
        assert final.returncode == 0, final.stderr[-2000:]
        assert kills == KILLS  # each kill landed mid-pass, after a write reached Clockwork
        assert not sender.problems, sender.problems[:3]
        assert len(sender.accepted) > 20

        with runtime.db.read() as session:
            rows = session.exec(
                select(Activity.id, Activity.activity_key, Activity.state)
            ).all()  # fmt: skip
        assert {row.id for row in rows} == sender.accepted  # one activity per delivery
        snapshot = sim.snapshot(SIM_FIRM)
        notes = Counter(key for n in snapshot["notes"] for key in _MARKER.findall(n["content"]))
        keys = {row.activity_key for row in rows}
        assert Counter(row.state for row in rows) == {ActivityState.SYNCED: len(rows)}
        assert set(notes) == keys, "a lost note, or a note for no accepted event"
        assert max(notes.values()) == 1, "a duplicated note"
        assert len(snapshot["people"]) == CONTACTS
        print(f"\n{kills} kills, {len(rows)} events accepted, {sum(notes.values())} notes")
    finally:
        sim_server.set_faults(None)
        runtime.close()

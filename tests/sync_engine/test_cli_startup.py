"""What a ``cwsync sync`` process loads: on a store at head, neither Alembic nor the other areas'
modules nor the optional modules libraries import for their own use (each costs start-up time,
which counts against a sync's timeout and the firms' finish times). A ``cwsync serve`` on SQLite
loads no PostgreSQL code, whatever requests it records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from sync_engine.ingest import credentials
from tests.factories import make_account, make_runtime
from tests.loopback import free_port, wait_until_answering

# Runs ``python -m sync_engine ARGS`` as the process itself and, at its exit, writes the names of
# the modules it imported to the file named first.
_RECORD_MODULES = """
import atexit, runpy, sys
out, sys.argv = sys.argv[1], ["cwsync", *sys.argv[2:]]
atexit.register(lambda: open(out, "w").write(
    "\\n".join(name for name, module in sys.modules.items() if module is not None)))
runpy.run_module("sync_engine", run_name="__main__")
"""

NOT_FOR_A_SYNC = (
    "alembic", "mako",  # migrations, when the store is behind
    "apscheduler", "tzlocal",  # the scheduler's alert job
    "httpx._main", "rich", "pygments", "click",  # httpx's own command line
    "trio",  # httpcore's check for a trio event loop
    "sqlalchemy.dialects.postgresql",  # on SQLite: the other backend's upserts
    "email_validator",  # checks a new contact's email
    "sync_engine.alerts.destinations", "sync_engine.alerts.delivery", "sync_engine.alerts.job",
    "sync_engine.verify.runs", "sync_engine.verify.repair", "sync_engine.ingest.credentials",
    "sync_engine.services.enrollments", "sync_engine.services.status", "sync_engine.demo",
)  # fmt: skip


POSTGRESQL = ("sqlalchemy.dialects.postgresql", "psycopg", "psycopg_c", "psycopg_binary")


def _environment(database_url: str, key: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "CWSYNC_DATABASE_URL": database_url,
        "CWSYNC_ENCRYPTION_KEY": key or Fernet.generate_key().decode(),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),  # this checkout's code
    }


def _among(loaded: set[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(n for n in loaded for m in packages if n == m or n.startswith(m + "."))


def _modules_of(args: list[str], *, database_url: str, tmp_path: Path) -> tuple[set[str], str]:
    listing = tmp_path / "modules.txt"
    done = subprocess.run(
        [sys.executable, "-c", _RECORD_MODULES, str(listing), *args],
        env=_environment(database_url), cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return set(listing.read_text().split()), done.stdout


def test_a_sync_on_a_store_at_head_loads_only_what_it_runs(sqlite_url: str, tmp_path: Path) -> None:
    loaded, out = _modules_of(
        ["sync", "--until-idle", "--timeout", "30"], database_url=sqlite_url, tmp_path=tmp_path
    )
    assert json.loads(out) == {"claimed": 0}
    assert {"sync_engine.engine.passes", "httpx", "sqlalchemy"} <= loaded  # it did run
    assert _among(loaded, NOT_FOR_A_SYNC + POSTGRESQL) == []


def test_a_store_behind_head_is_still_migrated_by_the_command(tmp_path: Path) -> None:
    loaded, out = _modules_of(
        ["sync"], database_url=f"sqlite:///{tmp_path / 'new.db'}", tmp_path=tmp_path
    )
    assert json.loads(out) == {"claimed": 0}
    assert "alembic" in loaded


def test_serve_on_sqlite_loads_no_postgresql_code_while_recording_deliveries(
    sqlite_url: str, tmp_path: Path
) -> None:
    key = Fernet.generate_key().decode()
    rt = make_runtime(sqlite_url, encryption_key=key)
    account_id = make_account(rt)
    with rt.db.write() as session:
        token = credentials.create_token(
            session=session, account_id=account_id, name="tests", actor="test"
        ).token
    rt.close()
    listing, port = tmp_path / "modules.txt", free_port()
    serving = subprocess.Popen(
        [sys.executable, "-c", _RECORD_MODULES, str(listing), "serve", "--port", str(port)],
        env=_environment(sqlite_url, key), cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    root = f"http://127.0.0.1:{port}/v1/accounts/{account_id}"
    sent = {"Authorization": f"Bearer {token}"}
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/openapi.json", serving, seconds=60)
        with httpx.Client(base_url=root, headers=sent, timeout=10) as client:
            assert client.put("/sequences/seq-1", json={"name": "VP Eng"}).status_code == 201
            contact = {"email": "maya@example.com", "first_name": "Maya"}
            added = client.post("/sequences/seq-1/contacts", json=contact)
            assert added.status_code == 201, added.text
            event = {"kind": "opened", "sequence": "seq-1", "email": "maya@example.com"}
            keyed = {"Idempotency-Key": "open-1"}  # its answer stored, then replayed
            answers = [client.post("/events", json=event, headers=keyed) for _ in range(2)]
            assert [a.status_code for a in answers] == [201, 201], answers[0].text
            assert answers[1].json() == answers[0].json()
    finally:
        serving.send_signal(signal.SIGINT)  # a clean stop: the listing is written at exit
        try:
            _out, err = serving.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            serving.kill()  # never left running after the test
            _out, err = serving.communicate()
    assert serving.returncode == 0, err.decode()
    loaded = set(listing.read_text().split())
    assert {"sync_engine.ingest.event_batch", "sync_engine.ingest.delivery_log"} <= loaded
    assert _among(loaded, POSTGRESQL) == []

"""What a ``cwsync sync`` process loads: on a store at head, neither Alembic nor the other areas'
modules nor the optional modules libraries import for their own use (each costs start-up time,
which counts against a sync's timeout and the firms' finish times)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

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


def _modules_of(args: list[str], *, database_url: str, tmp_path: Path) -> tuple[set[str], str]:
    listing = tmp_path / "modules.txt"
    environment = {
        **os.environ,
        "CWSYNC_DATABASE_URL": database_url,
        "CWSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),  # this checkout's code
    }
    done = subprocess.run(
        [sys.executable, "-c", _RECORD_MODULES, str(listing), *args],
        env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return set(listing.read_text().split()), done.stdout


def test_a_sync_on_a_store_at_head_loads_only_what_it_runs(sqlite_url: str, tmp_path: Path) -> None:
    loaded, out = _modules_of(
        ["sync", "--until-idle", "--timeout", "30"], database_url=sqlite_url, tmp_path=tmp_path
    )
    assert json.loads(out) == {"claimed": 0}
    assert {"sync_engine.engine.passes", "httpx", "sqlalchemy"} <= loaded  # it did run
    unwanted = {n for n in loaded for m in NOT_FOR_A_SYNC if n == m or n.startswith(m + ".")}
    assert sorted(unwanted) == []


def test_a_store_behind_head_is_still_migrated_by_the_command(tmp_path: Path) -> None:
    loaded, out = _modules_of(
        ["sync"], database_url=f"sqlite:///{tmp_path / 'new.db'}", tmp_path=tmp_path
    )
    assert json.loads(out) == {"claimed": 0}
    assert "alembic" in loaded

"""The README's "Ingest API" examples, run as written with real curl against `cwsync serve`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.models import Activity, Contact, utcnow
from tests import loopback
from tests.factories import make_connected_account, make_runtime

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("curl", "openssl", "xxd", "base64")),
        reason="needs curl, openssl, xxd and base64",
    ),
]


def _blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Ingest API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def test_the_readme_curl_examples_run_as_written(
    sqlite_url: str, sim_server: SimulatorServer, sim: SimulatorState, tmp_path: Path
) -> None:
    setup, session = _blocks()
    assert setup.startswith("cwsync serve &")
    runtime = make_runtime(sqlite_url, clock=utcnow)
    account_id = make_connected_account(runtime, "Acme Talent", base_url=sim_server.base_url)
    assert account_id == 1
    key = runtime.settings.encryption_key
    assert key is not None
    port = loopback.free_port()
    env = {
        **os.environ,
        "CWSYNC_DATABASE_URL": sqlite_url,
        "CWSYNC_ENCRYPTION_KEY": key.get_secret_value(),
        "CWSYNC_DEMO": "false",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            ["cwsync", "serve", "--port", str(port)], env=env, cwd=tmp_path,
            stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "cwsync serve did not start"
                time.sleep(0.1)
        script = "set -euo pipefail\n" + (setup + session).replace("cwsync serve &", "")
        script = script.replace("127.0.0.1:8780", f"127.0.0.1:{port}")
        done = subprocess.run(
            ["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '"created":true' in out
    assert '"result":"added"' in out
    assert '"accepted":1,"rejected":1' in out
    assert '"result":"recorded"' in out
    assert '"email":"ada@example.com"' in out
    with runtime.db.read() as store:
        kinds = sorted(a.kind for a in store.exec(select(Activity)).all())
        emails = sorted(c.email for c in store.exec(select(Contact)).all())
    runtime.close()
    assert kinds == ["opened", "replied", "sent"]
    assert emails == ["ada@example.com", "grace@example.com", "lead@example.com"]

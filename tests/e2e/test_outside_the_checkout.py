"""The dashboard started from another working directory (issue 12, item 2), on real sockets:
``cwsync dashboard`` listens on loopback only; a plain ``streamlit run`` of the app from there
listens on every interface (Streamlit reads ``.streamlit/config.toml`` from the working directory)
but refuses to serve demo mode, before it opens any store."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import pytest

from tests import loopback
from tests.e2e.conftest import IDLE, ROOT, started, store_env

APP = ROOT / "dashboard" / "app.py"


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(_address(address, width))
    return found


def _address(hex_address: str, width: int) -> str:
    raw = bytes.fromhex(hex_address)
    if width == 8:
        return ".".join(str(b) for b in reversed(raw))
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    return str(ipaddress.IPv6Address(b"".join(words)))


@pytest.fixture
def elsewhere(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working directory outside the checkout, and a demo environment with its data there."""
    cwd = tmp_path / "home"
    cwd.mkdir()
    data = tmp_path / "data"
    env = store_env(data, CWSYNC_DEMO="true", CWSYNC_DATA_DIR=str(data))
    for name in ("CWSYNC_DATABASE_URL", "CWSYNC_KEY_FILE", "CWSYNC_SIMULATOR_STATE_FILE"):
        env.pop(name)
    for name in [key for key in env if key.startswith("STREAMLIT_")]:
        env.pop(name)
    return cwd, env


def test_cwsync_dashboard_listens_on_loopback_only_from_any_directory(
    elsewhere: tuple[Path, dict[str, str]],
) -> None:
    cwd, env = elsewhere
    port = loopback.free_port()
    cwsync = [sys.executable, "-m", "sync_engine", "dashboard", "--port", str(port)]

    with started(cwsync, cwd=cwd, env=env, port=port, log=cwd / "dashboard.log"):
        assert listening_addresses(port) == {"127.0.0.1"}


def test_streamlit_run_from_another_directory_refuses_demo_mode(
    elsewhere: tuple[Path, dict[str, str]], browser: object
) -> None:
    cwd, env = elsewhere
    port = loopback.free_port()
    plain = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port)]

    with started(plain, cwd=cwd, env=env, port=port, log=cwd / "dashboard.log") as url:
        assert listening_addresses(port) & {"0.0.0.0", "::"}  # Streamlit's default: everywhere
        context = browser.new_context()  # type: ignore[attr-defined]
        try:
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector(IDLE)
            body = page.inner_text("body")
        finally:
            context.close()

    assert "Demo mode refuses to serve on every network interface" in body
    assert "cwsync dashboard" in body
    assert "Acme Talent" not in body
    data = Path(env["CWSYNC_DATA_DIR"])
    assert not (data / "cwsync.db").exists()  # refused before the store was opened
    assert not os.path.exists(data / "simulator.port")

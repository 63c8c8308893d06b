"""``cwsync dashboard`` (issue 12, item 2): Streamlit is started with the app's absolute path and
its safety settings on the command line (which win over any ``config.toml``), and with the
store, key and simulator paths resolved absolutely for the dashboard process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sync_engine.cli.dashboard import dashboard_command, dashboard_environment
from sync_engine.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_carries_the_address_and_the_safety_settings() -> None:
    command = dashboard_command("127.0.0.1", 8600)
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard/app.py")]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options == {
        "--server.address": "127.0.0.1",
        "--server.port": "8600",
        "--server.headless": "true",
        "--server.runOnSave": "false",
        "--server.fileWatcherType": "none",
        "--browser.gatherUsageStats": "false",
        "--client.toolbarMode": "minimal",
        "--client.showErrorDetails": "type",
    }


def test_relative_paths_reach_the_dashboard_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir="d", database_url="sqlite:///rel.db", key_file="k.key"
    )
    env = dashboard_environment(settings)
    assert env["CWSYNC_DATA_DIR"] == str(tmp_path / "d")
    assert env["CWSYNC_DATABASE_URL"] == f"sqlite:///{tmp_path / 'rel.db'}"
    assert env["CWSYNC_KEY_FILE"] == str(tmp_path / "k.key")
    assert env["CWSYNC_SIMULATOR_STATE_FILE"] == str(tmp_path / "d" / "simulator.json")

"""``cwsync dashboard``: the Streamlit dashboard started with its safety settings, from any
working directory."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from sync_engine.cli import common
from sync_engine.config import Settings

# The dashboard's safety settings, given to Streamlit on its command line: they win over any
# .streamlit/config.toml (which Streamlit reads from the working directory) and the environment.
DASHBOARD_OPTIONS = {
    "server.headless": "true",
    "server.runOnSave": "false",
    "server.fileWatcherType": "none",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",
    "client.showErrorDetails": "type",
}


def dashboard_command(address: str, port: int) -> list[str]:
    """The ``streamlit run`` command line of :func:`dashboard` (absolute app path)."""
    options = {"server.address": address, "server.port": str(port), **DASHBOARD_OPTIONS}
    flags = [part for name, value in options.items() for part in (f"--{name}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(_dashboard_root() / "app.py"), *flags]


def _dashboard_root() -> Path:
    """Where the installed dashboard's scripts are (found, not imported: the CLI only starts it)."""
    spec = importlib.util.find_spec("dashboard")
    if spec is None or spec.origin is None:
        raise RuntimeError("the dashboard package is not installed with this one")
    return Path(spec.origin).resolve().parent


def dashboard_environment(settings: Settings) -> dict[str, str]:
    """The environment of the dashboard process: this one's, with the store, key and simulator
    paths resolved here (absolute), so the dashboard opens the same files as this command."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        url = url.set(database=str(Path(url.database).absolute()))
    return {
        **os.environ,
        "CWSYNC_DATA_DIR": str(settings.data_dir),
        "CWSYNC_DATABASE_URL": url.render_as_string(hide_password=False),
        "CWSYNC_KEY_FILE": str(settings.key_file.absolute()),
        "CWSYNC_SIMULATOR_STATE_FILE": str(settings.simulator_state_file.absolute()),
    }


def dashboard(
    address: Annotated[
        str,
        typer.Option(
            help="Interface to listen on. Demo mode serves loopback only; outside demo mode a "
            "login is required."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8501,
) -> None:
    """Start the dashboard (streamlit run dashboard/app.py) with its safety settings (loopback,
    no usage statistics, no file watcher), from any working directory. It runs in the checkout,
    so the login in its .streamlit/secrets.toml applies."""
    command = dashboard_command(address, port)
    environment = dashboard_environment(common.settings())
    checkout = _dashboard_root().parent
    if (checkout / ".streamlit").is_dir():
        os.chdir(checkout)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, environment)


def register(app: typer.Typer) -> None:
    """Add ``dashboard`` to the CLI."""
    app.command("dashboard")(dashboard)

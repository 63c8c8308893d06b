"""The ``cwsync`` command line (SPEC §6): a thin Typer layer over the service functions.

Bad input of any kind ends in one line on stderr and a non-zero exit, never a traceback; so
does a store that cannot be used (read-only, full, unreachable) and a file that cannot be read.
"""

from __future__ import annotations

import atexit
import functools
import gc
import importlib.util
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from sync_engine.alerts.cli import alerts_app
from sync_engine.cli import accounts as account_commands
from sync_engine.cli import contacts, corrections, sequences, sync
from sync_engine.cli.common import (
    actor,
    fail,
    runtime,
    settings,
    state,
)
from sync_engine.config import Settings, get_settings
from sync_engine.crypto import SecretKeyError
from sync_engine.ingest.commands import register as register_ingest
from sync_engine.services.errors import ServiceError, invalid_input, store_unavailable
from sync_engine.verify.cli import register as register_verify

app = typer.Typer(
    name="cwsync",
    help="Clockwork Sync: sync outreach contacts into Clockwork Recruiting.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
account_commands.register(app)
sequences.register(app)
contacts.register(app)
sync.register(app)
corrections.register(app)
app.add_typer(alerts_app, name="alerts")


@app.callback()
def _main(
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL (default: CWSYNC_DATABASE_URL or data/cwsync.db)."),
    ] = None,
) -> None:
    overrides: dict[str, Any] = {"database_url": db} if db else {}
    try:
        state.settings = get_settings(**overrides)
    except ValidationError as exc:
        problem = invalid_input(exc).args[0]
        raise fail(f"bad configuration (--db or a CWSYNC_* variable): {problem}") from None


# --- simulator ------------------------------------------------------------------------------


@app.command()
def simulator(
    host: Annotated[
        str, typer.Option(help="Interface to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
    latency_ms: Annotated[float, typer.Option(min=0, help="Added latency per request.")] = 0.0,
    jitter_ms: Annotated[float, typer.Option(min=0, help="Random extra latency.")] = 0.0,
    rate_limit: Annotated[
        float | None, typer.Option(min=0.1, help="Requests/s per firm before 429.")
    ] = None,
    burst: Annotated[int | None, typer.Option(min=1, help="Token-bucket burst.")] = None,
    error_rate: Annotated[float, typer.Option(min=0, max=1, help="Share of 5xx.")] = 0.0,
    drop_rate: Annotated[float, typer.Option(min=0, max=1, help="Share dropped.")] = 0.0,
    drip_rate: Annotated[
        float, typer.Option(min=0, max=1, help="Share of answers sent one byte at a time.")
    ] = 0.0,
    drip_interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between the bytes of a dripped answer.")
    ] = 2.0,
) -> None:
    """Run the Clockwork simulator in the foreground (demo firm 'demo', see README)."""
    from clockwork_simulator import FaultConfig, run_simulator

    try:
        faults = FaultConfig(
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            rate_limit_rps=rate_limit,
            burst=burst,
            error_rate=error_rate,
            drop_rate=drop_rate,
            drip_rate=drip_rate,
            drip_interval_seconds=drip_interval,
        )
    except ValidationError as exc:
        raise fail(invalid_input(exc).args[0]) from None
    run_simulator(host=host, port=port, faults=faults)


@app.command()
def demo(
    reset: Annotated[
        bool, typer.Option(help="Wipe the store (a demo store only) and the simulator first.")
    ] = False,
    simulator_url: Annotated[
        str, typer.Option(help="A running `cwsync simulator` to seed and connect to.")
    ] = "http://127.0.0.1:8765",
) -> None:
    """Seed demo accounts, sequences, contacts and activity into an empty store (marked a demo
    store) or a demo store; any other store is refused."""
    from sync_engine.demo import seed_demo

    try:
        report = seed_demo(runtime(), simulator_url.rstrip("/"), reset=reset)
    except httpx.TransportError:
        raise fail(
            f"no simulator answers at {simulator_url} (start one: cwsync simulator)"
        ) from None
    if not report.seeded:
        typer.echo("the store already has accounts; nothing seeded (use --reset)", err=True)
        return
    names = ", ".join(report.accounts)
    typer.echo(
        f"seeded {len(report.accounts)} accounts ({names}), {report.enrollments} enrollments",
        err=True,
    )


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


@app.command("dashboard")
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
    environment = dashboard_environment(settings())
    checkout = _dashboard_root().parent
    if (checkout / ".streamlit").is_dir():
        os.chdir(checkout)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, environment)


# The ingest API's commands (serve, token) live with it.
register_ingest(app, runtime=runtime, actor=actor, fail=fail)
register_verify(app)


# Built once: typer reads every command's signature to build it, and the tests run the CLI
# in-process hundreds of times.
_command = functools.cache(functools.partial(typer.main.get_command, app))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every expected failure into one line and exit code 2."""
    if argv is None:  # a process of its own, which ends with the command
        atexit.register(_end_quickly)
    command = _command()
    try:
        code = command.main(args=argv, prog_name="cwsync", standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        typer.echo("cwsync: aborted", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: bad option values, missing arguments
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help(), err=True)
            sys.exit(2)
        hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        typer.echo(f"cwsync: {' '.join(message.split())}{hint}", err=True)
        sys.exit(2)
    except (ServiceError, SecretKeyError) as exc:
        typer.echo(f"cwsync: {exc}", err=True)
        sys.exit(2)
    except OperationalError as exc:  # read-only, full, unreachable: the store, not the input
        url = settings().database_url
        typer.echo(f"cwsync: {store_unavailable(exc, url)}", err=True)
        sys.exit(1)
    except OSError as exc:  # a file named on the command line or in the settings
        where = f": {exc.filename}" if exc.filename else ""
        typer.echo(f"cwsync: {exc.strerror or exc}{where}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _end_quickly() -> None:
    """Close the store's connections, then spare the exiting interpreter its final garbage
    collection of every object the libraries made: freezing moves them out of the collector's
    sight; the process ends right after."""
    if state.runtime is not None:
        state.runtime.close()
    gc.freeze()

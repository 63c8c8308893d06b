"""The ``cwsync`` app: the global ``--db`` option, the commands of each area's module and the
sub-apps of alerts, ingest and verify put together, and :func:`main`, which runs it.

Bad input of any kind ends in one line on stderr and a non-zero exit, never a traceback; so
does a store that cannot be used (read-only, full, unreachable) and a file that cannot be read.
"""

from __future__ import annotations

import atexit
import functools
import gc
import sys
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from sync_engine.alerts.cli import alerts_app
from sync_engine.cli import accounts, contacts, corrections, dashboard, demo, sequences, sync
from sync_engine.cli.common import actor, fail, process_started, runtime, settings, state
from sync_engine.config import get_settings
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


# In the order of `cwsync --help`: commands by area, then the groups in the order they are added.
accounts.register(app)
sequences.register(app)
contacts.register(app)
sync.register(app)
corrections.register(app)
demo.register(app)
dashboard.register(app)
app.add_typer(alerts_app, name="alerts")
# The ingest API's commands (serve, token) live with it, and take the CLI's helpers as arguments.
register_ingest(app, runtime=runtime, actor=actor, fail=fail)
register_verify(app)


# Built once: typer reads every command's signature to build it, and the tests run the CLI
# in-process hundreds of times.
_command = functools.cache(functools.partial(typer.main.get_command, app))


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every expected failure into one line and exit code 2."""
    if argv is None:  # a process of its own, which ends with the command
        atexit.register(_end_quickly)
        state.started = process_started()
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

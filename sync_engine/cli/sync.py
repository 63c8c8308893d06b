"""``cwsync sync``: engine passes run now, in this process."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from sync_engine.cli.common import runtime, state


def sync(
    until_idle: Annotated[
        bool,
        typer.Option(
            "--until-idle", help="Keep running passes until nothing is due (waits out backoff)."
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            min=0,
            max=86400,
            help="With --until-idle: return within this many seconds of the command's start "
            "whatever Clockwork does (exit 3 if work remains).",
        ),
    ] = 300.0,
) -> None:
    """Run engine passes now, in this process; prints the counts by outcome as JSON.

    Exit 0 when nothing is left to do, 3 when --until-idle reached its timeout with work still
    queued (it is said on stderr how much); that work stays queued for the next run.
    """
    from sync_engine.engine.passes import Engine

    # The timeout counts the interpreter's start-up and opening the store (migrations) too.
    started = time.monotonic() if state.started is None else state.started
    engine = Engine(runtime())
    engine.reap_leases()
    if until_idle:
        counts = engine.run_until_idle(timeout=max(0.0, timeout - (time.monotonic() - started)))
    else:
        counts = engine.run_pass()
        engine.close()
    typer.echo(json.dumps(dict(sorted(counts.items()))))
    if counts.get("timed_out"):
        typer.echo(
            f"cwsync: timed out after {timeout:g}s with {counts['remaining']} enrollment(s) still "
            "queued (backing off, throttled or paused); they stay queued for the next run",
            err=True,
        )
        raise typer.Exit(code=3)


def register(app: typer.Typer) -> None:
    """Add ``sync`` to the CLI."""
    app.command()(sync)

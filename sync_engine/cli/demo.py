"""``cwsync simulator`` and ``cwsync demo``: the Clockwork simulator in the foreground, and the
demo data seeded through it."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer
from pydantic import ValidationError

from sync_engine.cli.common import fail, runtime
from sync_engine.services.errors import invalid_input


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


def register(app: typer.Typer) -> None:
    """Add ``simulator`` and ``demo`` to the CLI."""
    app.command()(simulator)
    app.command()(demo)

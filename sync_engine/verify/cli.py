"""``cwsync verify`` and ``cwsync repair``: check an account's synced contacts against Clockwork,
and queue the repair of what drifted (registered in :mod:`sync_engine.cli.root`). The verify
modules are imported inside the commands, so that the other commands start without them."""

from __future__ import annotations

from typing import Annotated

import typer

from sync_engine.cli.common import actor, fail, resolve_account, runtime
from sync_engine.services.accounts import MAX_RECORD_ID, get_sequence
from sync_engine.services.errors import InvalidInputError
from sync_engine.verify.models import VerifyRun, VerifyState


def verify(
    account: str,
    sequence: Annotated[
        int | None, typer.Option(min=1, max=MAX_RECORD_ID, help="Only this sequence's contacts.")
    ] = None,
    sample: Annotated[
        int | None, typer.Option(min=1, help="About this many contacts, spread over the account.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be checked and its reads; send none.")
    ] = False,
    background: Annotated[
        bool, typer.Option("--background", help="Queue it for the running engine and return.")
    ] = False,
) -> None:
    """Check that the account's synced contacts are really in Clockwork (nothing is changed
    there); prints the run's id, progress on stderr, and each drifted contact."""
    from sync_engine.verify import repair as repairs
    from sync_engine.verify.runs import VerifyError, advance, plan, request_verification

    rt = runtime()
    account_id = resolve_account(account)
    if sequence is not None:
        with rt.db.read() as session:
            if get_sequence(session=session, sequence_id=sequence).account_id != account_id:
                raise InvalidInputError(f"sequence {sequence} is not one of {account}'s")
    if dry_run:
        planned = plan(rt, account_id=account_id, sequence_id=sequence, sample=sample)
        typer.echo(
            f"would check {planned.contacts} contacts ({planned.with_notes} with notes, "
            f"{planned.projects} projects) in about {planned.estimated_reads} reads; "
            "nothing sent",
            err=True,
        )
        return
    try:
        run = request_verification(
            rt, account_id=account_id, sequence_id=sequence, sample=sample, actor=actor()
        )
    except VerifyError as exc:
        raise fail(str(exc)) from None
    typer.echo(run.id)
    if background:
        typer.echo("queued: the engine works it in the background", err=True)
        return

    def progress(current: VerifyRun) -> None:
        typer.echo(
            f"checked {current.checked} of {current.total}, {current.drifted} drifted, "
            f"{current.reads} reads",
            err=True,
        )

    assert run.id is not None
    run = advance(rt, run.id, share=rt.settings.verify_share, on_batch=progress)
    if run.state != VerifyState.DONE:
        raise fail(f"verification {run.id} stopped: {run.error or run.state}")
    with rt.db.read() as session:
        steps = repairs.preview_repair(session=session, account_id=account_id)
    for step in steps:
        typer.echo(f"drifted\t{step.email}\t{step.reason}", err=True)
    average = run.reads / run.checked if run.checked else 0.0
    typer.echo(
        f"verified {run.checked} contacts: {run.drifted} drifted; {run.reads} reads "
        f"({average:.2f} per contact)",
        err=True,
    )


def repair(
    account: str,
    apply: Annotated[
        bool, typer.Option("--apply", help="Queue the repair (else: preview).")
    ] = False,
) -> None:
    """Preview the repair of the drift the last verification found; with --apply queue it for
    the engine (the next sync carries it out)."""
    from sync_engine.verify import repair as repairs

    rt = runtime()
    account_id = resolve_account(account)
    with rt.db.read() as session:
        steps = repairs.preview_repair(session=session, account_id=account_id)
    for step in steps:
        typer.echo(f"{step.email}\t{step.reason}\t{'; '.join(step.actions)}")
    if not steps:
        typer.echo("nothing to repair (verify the account first)", err=True)
        return
    if apply:
        with rt.db.write() as session:
            queued = repairs.apply_repair(session=session, account_id=account_id, actor=actor())
        typer.echo(f"{queued} contacts queued for repair; the next sync carries it out", err=True)


def register(app: typer.Typer) -> None:
    """Add ``verify`` and ``repair`` to the command line."""
    app.command("verify")(verify)
    app.command("repair")(repair)

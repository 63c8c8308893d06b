"""``cwsync sequence …``: an account's sequences and their Syncing tab."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sync_engine.cli.common import (
    SequenceId,
    actor,
    fail,
    resolve_account,
    resolve_project,
    runtime,
)
from sync_engine.services import accounts

sequence_app = typer.Typer(help="Sequences and their Syncing tab.", no_args_is_help=True)

ProjectOverride = Annotated[
    str | None,
    typer.Option(
        metavar="PROJECT",
        help="Project override: its id or exact name in Clockwork (see: cwsync projects).",
    ),
]


@sequence_app.command("add")
def sequence_add(
    account: str,
    name: str,
    disable_sync: Annotated[
        bool, typer.Option("--disable-sync", help="Never sync this sequence's contacts.")
    ] = False,
    project: ProjectOverride = None,
) -> None:
    """Create a sequence; prints its id."""
    rt = runtime()
    account_id = resolve_account(account)
    project_id = resolve_project(account_id, project, field="project_id") if project else None
    with rt.db.write() as session:
        sequence = accounts.add_sequence(
            session=session,
            account_id=account_id,
            name=name,
            disable_sync=disable_sync,
            project_id=project_id,
            actor=actor(),
        )
    typer.echo(sequence.id)


@sequence_app.command("set")
def sequence_set(
    sequence_id: SequenceId,
    disable_sync: Annotated[
        bool | None, typer.Option("--disable-sync/--enable-sync", help="The Disable Sync toggle.")
    ] = None,
    project: ProjectOverride = None,
    no_project: Annotated[
        bool, typer.Option("--no-project", help="Clear the project override.")
    ] = False,
) -> None:
    """Change a sequence's Syncing tab (affects only contacts added afterwards)."""
    if project is not None and no_project:
        raise fail("give --project or --no-project, not both")
    changes: dict[str, Any] = {}
    if disable_sync is not None:
        changes["disable_sync"] = disable_sync
    if no_project:
        changes["project_id"] = None
    if not changes and project is None:
        raise fail("nothing to change: give --disable-sync/--enable-sync or a project option")
    rt = runtime()
    if project is not None:
        with rt.db.read() as session:
            account_id = accounts.get_sequence(session=session, sequence_id=sequence_id).account_id
        changes["project_id"] = resolve_project(account_id, project, field="project_id")
    with rt.db.write() as session:
        accounts.update_sequence(
            session=session,
            sequence_id=sequence_id,
            changes=changes,
            actor=actor(),
        )


@sequence_app.command("list")
def sequence_list(account: str) -> None:
    """List an account's sequences: id, name, Disable Sync, project."""
    rt = runtime()
    account_id = resolve_account(account)
    with rt.db.read() as session:
        for sequence in accounts.list_sequences(session=session, account_id=account_id):
            flag = "sync disabled" if sequence.disable_sync else "sync enabled"
            typer.echo(f"{sequence.id}\t{sequence.name}\t{flag}\t{sequence.project_id or '-'}")


def register(app: typer.Typer) -> None:
    """Add ``sequence …`` to the CLI."""
    app.add_typer(sequence_app, name="sequence")

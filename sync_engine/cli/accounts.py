"""``cwsync account …``, ``projects``, ``connect``, ``disconnect`` and ``settings``: an account,
its Clockwork connection and its sync settings."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from sync_engine.cli.common import actor, fail, resolve_account, resolve_project, runtime
from sync_engine.domain import SyncMode
from sync_engine.services import accounts, projects

account_app = typer.Typer(help="Customer accounts.", no_args_is_help=True)


@account_app.command("add")
def account_add(name: str) -> None:
    """Create an account; prints its id."""
    rt = runtime()
    with rt.db.write() as session:
        account = accounts.create_account(session=session, name=name, actor=actor())
    typer.echo(account.id)


@account_app.command("list")
def account_list() -> None:
    """List accounts with their connection state."""
    rt = runtime()
    with rt.db.read() as session:
        for account in accounts.list_accounts(session=session):
            assert account.id is not None
            summary = accounts.connection_summary(session=session, account_id=account.id)
            state = summary.state.value if summary else "never connected"
            typer.echo(f"{account.id}\t{account.name}\t{state}")


def projects_command(
    account: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON array of {id, name, status}.")
    ] = False,
) -> None:
    """The Clockwork projects of the account's firm: id and name (by name), for --project and
    --default-project."""
    found = projects.firm_projects(runtime(), account_id=resolve_account(account))
    if as_json:
        shown = [{"id": p.project_id, "name": p.name, "status": p.status} for p in found]
        typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    for project in found:
        typer.echo(f"{project.project_id}\t{project.name}")


def connect(
    account: str,
    firm: Annotated[str, typer.Option(help="Firm name (the Clockwork login subdomain).")],
    api_key: Annotated[str, typer.Option(envvar="CWSYNC_API_KEY", show_envvar=True)],
    api_secret: Annotated[str, typer.Option(envvar="CWSYNC_API_SECRET", show_envvar=True)],
    firm_service_key: Annotated[
        str, typer.Option(envvar="CWSYNC_FIRM_SERVICE_KEY", show_envvar=True)
    ],
    base_url: Annotated[
        str | None, typer.Option(help="API base URL (a sandbox or the simulator).")
    ] = None,
) -> None:
    """Verify credentials against Clockwork, then store them encrypted."""
    fields = {
        "firm": firm,
        "api_key": api_key,
        "api_secret": api_secret,
        "firm_service_key": firm_service_key,
    }
    if base_url:
        fields["base_url"] = base_url
    summary = accounts.connect(
        runtime(), account_id=resolve_account(account), fields=fields, actor=actor()
    )
    typer.echo(f"connected {summary.firm} (API key {summary.api_key_hint})")


def disconnect(account: str) -> None:
    """Forget an account's credentials; its history and queued work are kept."""
    rt = runtime()
    account_id = resolve_account(account)
    with rt.db.write() as session:
        accounts.disconnect(session=session, account_id=account_id, actor=actor())
    typer.echo("disconnected", err=True)


def settings_command(
    account: str,
    mode: Annotated[SyncMode | None, typer.Option(help="When contacts sync.")] = None,
    dedup: Annotated[
        bool | None, typer.Option("--dedup/--no-dedup", help="Flag Exists in Clockwork.")
    ] = None,
    default_project: Annotated[
        str | None,
        typer.Option(
            metavar="PROJECT",
            help="Default project: its id or exact name in Clockwork (see: cwsync projects).",
        ),
    ] = None,
    no_default_project: Annotated[
        bool, typer.Option("--no-default-project", help="Clear the default project.")
    ] = False,
    activity: Annotated[
        bool | None, typer.Option("--activity/--no-activity", help="Activity tracking.")
    ] = None,
    max_rps: Annotated[
        float | None, typer.Option(help="Requests/s budget for this firm's connection.")
    ] = None,
    link_by_linkedin: Annotated[
        bool | None,
        typer.Option(
            "--link-by-linkedin/--no-link-by-linkedin",
            help="Link a person whose LinkedIn URL matches when no email does (default off).",
        ),
    ] = None,
) -> None:
    """Show or change an account's sync settings (no options: show them as JSON)."""
    if default_project is not None and no_default_project:
        raise fail("give --default-project or --no-default-project, not both")
    rt = runtime()
    account_id = resolve_account(account)
    changes: dict[str, Any] = {}
    if default_project is not None:
        changes["default_project_id"] = resolve_project(
            account_id, default_project, field="default_project_id"
        )
    for name, value in (
        ("sync_mode", mode),
        ("deduplication", dedup),
        ("activity_tracking", activity),
        ("max_rps", max_rps),
        ("link_by_linkedin", link_by_linkedin),
    ):
        if value is not None:
            changes[name] = value
    if no_default_project:
        changes["default_project_id"] = None
    with rt.db.write() as session:
        if changes:
            current = accounts.update_settings(
                session=session,
                account_id=account_id,
                changes=changes,
                actor=actor(),
            )
        else:
            current = accounts.get_settings(session=session, account_id=account_id)
        shown = current.model_dump(mode="json", exclude={"updated_at"})
    typer.echo(json.dumps(shown, indent=2))


def register(app: typer.Typer) -> None:
    """Add ``projects``, ``connect``, ``disconnect``, ``settings`` and ``account …`` to the CLI."""
    app.command("projects")(projects_command)
    app.command()(connect)
    app.command()(disconnect)
    app.command("settings")(settings_command)
    app.add_typer(account_app, name="account")

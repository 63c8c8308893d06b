"""``cwsync resync-project``, ``backfill-activity`` and ``review``: an operator's corrections after
a sync (a project set late, activity skipped while tracking was off, an ambiguous match)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from sync_engine.cli.common import EnrollmentId, SequenceId, actor, fail, resolve_account, runtime
from sync_engine.services import accounts


def resync_project(
    sequence_id: SequenceId,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; change nothing.")
    ] = False,
) -> None:
    """Add contacts synced before the sequence had a project to it (prints the plan as JSON)."""
    from sync_engine.services.project_resync import apply_resync, plan_resync

    rt = runtime()
    if dry_run:
        plan = plan_resync(rt, sequence_id=sequence_id)
    else:
        plan = apply_resync(rt, sequence_id=sequence_id, actor=actor())
    typer.echo(
        json.dumps(
            {
                "sequence_id": plan.sequence_id,
                "project_id": plan.project_id,
                "dry_run": dry_run,
                "to_add": [
                    {"enrollment_id": i.enrollment_id, "email": i.email} for i in plan.to_add
                ],
                "already_in_project": [
                    {"enrollment_id": i.enrollment_id, "email": i.email} for i in plan.already_there
                ],
            },
            indent=2,
        )
    )
    if plan.project_id is None:
        typer.echo("cwsync: the sequence and its account have no project to re-sync to", err=True)


def backfill_activity(
    account: str,
    sequence: Annotated[
        int | None, typer.Option(min=1, max=accounts.MAX_RECORD_ID, help="Only this sequence.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only activity from this date (ISO).")] = None,
    include_before_connection: Annotated[
        bool,
        typer.Option(
            "--include-before-connection",
            help="Also send activity from before Clockwork was connected.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; change nothing.")
    ] = False,
) -> None:
    """Send email activity skipped while tracking was off (prints the activities as JSON)."""
    from sync_engine.services.activity_backfill import apply_backfill, plan_backfill

    moment: datetime | None = None
    if since:
        try:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise fail(f"--since {since!r} is not an ISO 8601 date") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    rt = runtime()
    account_id = resolve_account(account)
    with rt.db.write() as session:
        items = plan_backfill(
            session=session,
            account_id=account_id,
            sequence_id=sequence,
            since=moment,
            include_before_connection=include_before_connection,
        )
        if not dry_run:
            apply_backfill(session=session, account_id=account_id, items=items, actor=actor())
    shown = [
        {
            "activity_id": i.activity_id,
            "enrollment_id": i.enrollment_id,
            "email": i.email,
            "kind": i.kind,
            "occurred_at": i.occurred_at.isoformat(),
            "skipped_because": i.reason,
        }
        for i in items
    ]
    typer.echo(json.dumps({"dry_run": dry_run, "activities": shown}, indent=2))


def review(
    enrollment_id: EnrollmentId,
    person: Annotated[str | None, typer.Option(help="Link this candidate person id.")] = None,
    new: Annotated[bool, typer.Option("--new", help="Create a new person instead.")] = False,
) -> None:
    """Resolve an ambiguous LinkedIn match: pick a candidate person, or --new."""
    from sync_engine.services.actions import resolve_review

    if bool(person) == new:
        raise fail("give exactly one of --person PERSON_ID or --new")
    rt = runtime()
    with rt.db.write() as session:
        resolve_review(
            session=session,
            enrollment_id=enrollment_id,
            person_id=person,
            actor=actor(),
        )


def register(app: typer.Typer) -> None:
    """Add ``resync-project``, ``backfill-activity`` and ``review`` to the CLI."""
    app.command("resync-project")(resync_project)
    app.command("backfill-activity")(backfill_activity)
    app.command()(review)

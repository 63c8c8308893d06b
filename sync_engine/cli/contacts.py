"""``cwsync contact …``, ``event`` and ``status``: contacts enrolled in a sequence, their email
events, and the sync status of each enrollment. The services are imported inside the commands, so
that the other commands (``cwsync sync``) start without them."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from sync_engine.cli.common import EnrollmentId, SequenceId, fail, resolve_account, runtime
from sync_engine.domain import ActivityKind
from sync_engine.services import accounts, contacts_csv

contact_app = typer.Typer(help="Contacts: add one, or import a CSV.", no_args_is_help=True)


@contact_app.command("add")
def contact_add(
    sequence_id: SequenceId,
    email: Annotated[str, typer.Option(help="The contact's email.")],
    first_name: str = "",
    last_name: str = "",
    title: str = "",
    company: str = "",
    linkedin_url: str = "",
) -> None:
    """Add a contact to a sequence (the *add* trigger); prints the enrollment id."""
    from sync_engine.services import enrollments

    contact = enrollments.parse_contact(
        {
            "email": email,
            "first_name": first_name,
            "last_name": last_name,
            "title": title,
            "company": company,
            "linkedin_url": linkedin_url,
        }
    )
    rt = runtime()
    with rt.db.write() as session:
        enrollment = enrollments.add_contact(
            session=session, sequence_id=sequence_id, contact=contact
        )
    typer.echo(enrollment.id)


@contact_app.command("import")
def contact_import(
    sequence_id: SequenceId,
    file: Annotated[Path, typer.Argument(help="CSV with " + ",".join(contacts_csv.CSV_COLUMNS))],
) -> None:
    """Import a CSV: good rows are enrolled, bad rows are listed by line; exit 1 if any were bad."""
    from sync_engine.services import enrollments

    _header, rows, total = contacts_csv.read_contacts_csv(file)
    rt = runtime()
    with rt.db.read() as session:
        sequence = accounts.get_sequence(session=session, sequence_id=sequence_id)
    label = f"importing {total:,} {'row' if total == 1 else 'rows'} of {file.name} into {sequence.name!r}"
    with typer.progressbar(length=total, label=label, file=sys.stderr, show_pos=True) as progress:
        report = enrollments.import_contacts(
            session_factory=rt.db.write,
            sequence_id=sequence_id,
            rows=rows,
            on_progress=progress.update,
        )
    for line, reason in report.rejected:
        typer.echo(f"line {line}: {reason}", err=True)
    typer.echo(f"imported {report.imported} of {report.total} rows")
    if report.rejected:
        raise typer.Exit(code=1)


def event(
    enrollment_id: EnrollmentId,
    kind: ActivityKind,
    at: Annotated[
        str | None, typer.Option(help="When it happened, ISO 8601 with a zone (default: now).")
    ] = None,
    subject: Annotated[str, typer.Option(help="The email's subject.")] = "",
) -> None:
    """Record an email event of an enrollment (a reply is a sync trigger); prints its id."""
    from sync_engine.services import events

    moment: datetime | None = None
    if at:
        try:
            moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise fail(f"--at {at!r} is not an ISO 8601 date-time") from None
    rt = runtime()
    with rt.db.write() as session:
        activity = events.record_event(
            session=session,
            enrollment_id=enrollment_id,
            kind=kind,
            at=moment,
            subject=subject,
        )
    typer.echo(activity.id)


def status(
    account: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per enrollment.")
    ] = False,
) -> None:
    """Per-enrollment sync status of an account (SPEC §4)."""
    from sync_engine.services.status import iter_status

    rt = runtime()
    account_id = resolve_account(account)
    with rt.db.read() as session:
        # Streamed: the first line comes at once and memory stays flat at any account size.
        rows = iter_status(session=session, account_id=account_id)
        if as_json:  # a JSON array, one enrollment per line
            separator = "[\n"
            for row in rows:
                sys.stdout.write(separator + json.dumps(row))
                separator = ",\n"
            sys.stdout.write("[]\n" if separator == "[\n" else "\n]\n")
            return
        for row in rows:
            reason = f" ({row['reason']})" if row["reason"] else ""
            flag = " [Exists in Clockwork]" if row["exists_in_clockwork"] else ""
            typer.echo(f"{row['enrollment_id']}\t{row['email']}\t{row['status']}{reason}{flag}")


def register(app: typer.Typer) -> None:
    """Add ``contact …``, ``event`` and ``status`` to the CLI."""
    app.command()(event)
    app.command()(status)
    app.add_typer(contact_app, name="contact")

"""``cwsync alerts …``: configure where an account's alerts go, its rules, send a test, read the log.

A thin Typer layer over :mod:`sync_engine.alerts.destinations`, added to the CLI by
:mod:`sync_engine.cli.root`; it shares the CLI's runtime, one-line failures and actor
(:mod:`sync_engine.cli.common`). The alerts' modules are imported inside the commands, so
that the other commands (``cwsync sync``) start without them.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer

from sync_engine.alerts.models import AlertRule, DestinationKind
from sync_engine.cli.common import actor, fail, resolve_account, runtime
from sync_engine.services.accounts import MAX_RECORD_ID

alerts_app = typer.Typer(
    help="Alerts: where an account's alerts go, its rules, a test alert, the log.",
    no_args_is_help=True,
)

SMTP_PASSWORD_VARIABLE = "CWSYNC_SMTP_PASSWORD"


@alerts_app.command("add")
def add(
    account: str,
    kind: Annotated[DestinationKind, typer.Argument(help="webhook, slack or email")],
    url: Annotated[str | None, typer.Option(help="The webhook's or Slack's URL.")] = None,
    label: Annotated[str, typer.Option(help="A name for people.")] = "",
    smtp_host: Annotated[str | None, typer.Option(help="E-mail: the mail server.")] = None,
    smtp_port: Annotated[int, typer.Option(min=1, max=65535)] = 587,
    smtp_user: Annotated[str | None, typer.Option(help="E-mail: the login, if any.")] = None,
    starttls: Annotated[bool, typer.Option(help="E-mail: STARTTLS before sending.")] = True,
    sender: Annotated[str | None, typer.Option("--from", help="E-mail: the sender.")] = None,
    to: Annotated[str | None, typer.Option(help="E-mail: recipients, comma-separated.")] = None,
) -> None:
    """Add a destination; prints its id (a webhook's signing secret goes to stderr, once).

    The SMTP password, if any, is read from CWSYNC_SMTP_PASSWORD (kept out of shell history)."""
    from sync_engine.alerts import destinations

    rt = runtime()
    fields: dict[str, Any] = {
        "kind": kind, "url": url, "label": label, "smtp_host": smtp_host,
        "smtp_port": smtp_port, "smtp_username": smtp_user, "smtp_starttls": starttls,
        "smtp_password": os.environ.get(SMTP_PASSWORD_VARIABLE), "email_from": sender,
        "email_to": to or [],
    }  # fmt: skip
    added = destinations.add_destination(
        rt, account_id=resolve_account(account), fields=fields, actor=actor()
    )
    typer.echo(added.destination.id)
    if added.signing_secret:
        typer.echo(
            f"signing secret (shown once; verify webhook-signature with it): "
            f"{added.signing_secret}",
            err=True,
        )


@alerts_app.command("remove")
def remove(
    destination_id: Annotated[int, typer.Argument(min=1, max=MAX_RECORD_ID)],
) -> None:
    """Remove a destination (its log stays)."""
    from sync_engine.alerts import destinations

    rt = runtime()
    with rt.db.write() as session:
        destinations.remove_destination(
            session=session, destination_id=destination_id, actor=actor()
        )


@alerts_app.command("list")
def list_command(
    account: str,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The account's destinations and rules, with the incidents open now."""
    from sync_engine.alerts import destinations

    rt = runtime()
    account_id = resolve_account(account)
    with rt.db.read() as session:
        rows = destinations.list_destinations(session=session, account_id=account_id)
        rules = destinations.rules_of(
            session=session, account_id=account_id,
            sync_interval_seconds=rt.settings.sync_interval_seconds,
        )  # fmt: skip
    if as_json:
        document = {
            "destinations": [
                {
                    "id": d.id,
                    "kind": d.kind,
                    "label": d.label,
                    "target": d.target_hint,
                    "enabled": d.enabled,
                }
                for d in rows
            ],
            "rules": [
                {
                    "rule": r.rule.value,
                    "enabled": r.enabled,
                    "threshold": r.threshold,
                    "firing": r.firing,
                    "since": r.since.isoformat() if r.since else None,
                    "detail": r.detail,
                }
                for r in rules
            ],
        }
        typer.echo(json.dumps(document, indent=2))
        return
    for d in rows:
        typer.echo(f"destination\t{d.id}\t{d.kind}\t{d.target_hint}\t{d.label}")
    for r in rules:
        state = "FIRING" if r.firing else ("on" if r.enabled else "off")
        threshold = "" if r.threshold is None else f"{r.threshold:g}"
        typer.echo(f"rule\t{r.rule.value}\t{state}\t{threshold}\t{r.detail or ''}")


@alerts_app.command("rule")
def rule_command(
    account: str,
    rule: Annotated[AlertRule, typer.Argument(help="The rule to change.")],
    enabled: Annotated[bool | None, typer.Option("--on/--off", help="Switch it.")] = None,
    threshold: Annotated[float | None, typer.Option(help="Its threshold.")] = None,
) -> None:
    """Switch a rule on or off for the account, or set its threshold."""
    from sync_engine.alerts import destinations

    rt = runtime()
    if enabled is None and threshold is None:
        raise fail("say --on, --off or --threshold")
    with rt.db.write() as session:
        destinations.set_rule(
            session=session, account_id=resolve_account(account), rule=rule, enabled=enabled,
            threshold=threshold, actor=actor(),
        )  # fmt: skip


@alerts_app.command("test")
def test_command(
    account: str,
    destination: Annotated[
        int | None, typer.Option(min=1, max=MAX_RECORD_ID, help="Only this destination.")
    ] = None,
) -> None:
    """Send a test alert now; exit 1 if a destination did not get it (it is retried later)."""
    from sync_engine.alerts import destinations

    counts = destinations.send_test(
        runtime(), account_id=resolve_account(account), destination_id=destination,
        actor=actor(),
    )  # fmt: skip
    for delivery_id, sent in counts.results.items():
        outcome = "delivered" if sent.delivered else f"not delivered: {sent.error}"
        typer.echo(f"message {delivery_id}: {outcome}", err=True)
    if counts.delivered < len(counts.results):
        raise typer.Exit(code=1)


@alerts_app.command("log")
def log_command(
    account: str,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """The account's newest alert messages: when, what, to where, and whether they arrived."""
    from sync_engine.alerts import destinations

    rt = runtime()
    with rt.db.read() as session:
        rows = destinations.alert_log(
            session=session, account_id=resolve_account(account), limit=limit
        )
    for row in rows:
        typer.echo(
            f"{row.created_at.isoformat()}\t{row.event}\t{row.rule}\t{row.state}\t"
            f"{row.attempts}\t{row.destination_hint}\t{row.last_error or ''}"
        )


@alerts_app.command("check")
def check() -> None:
    """Evaluate every rule once and send what is due (the scheduler does this every interval)."""
    from sync_engine.alerts.job import check_alerts

    transitions, counts = check_alerts(runtime())
    for t in transitions:
        typer.echo(f"{t.event.value}\taccount {t.account_id}\t{t.rule.value}\t{t.title}", err=True)
    typer.echo(
        f"{counts.delivered} delivered, {counts.retrying} to retry, {counts.failed} failed",
        err=True,
    )

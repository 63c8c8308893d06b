"""``cwsync serve`` and ``cwsync token …``: the ingest API's commands, registered on the CLI by
:func:`register` (the CLI passes its runtime, actor and error helpers, so this module does not
import it). FastAPI is imported only when ``serve`` runs, the credentials when a ``token``
command does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from sync_engine.runtime import Runtime
from sync_engine.services import accounts

DEFAULT_PORT = 8780


def register(
    app: typer.Typer,
    *,
    runtime: Callable[[], Runtime],
    actor: Callable[[], str],
    fail: Callable[[str], typer.Exit],
) -> None:
    """Add ``serve`` and the ``token`` group to the CLI."""
    token_app = typer.Typer(
        help="Ingest API tokens and the webhook signing secret of an account.",
        no_args_is_help=True,
    )
    app.add_typer(token_app, name="token")

    def account_id(ref: str) -> int:
        with runtime().db.read() as session:
            account = accounts.get_account(session=session, ref=ref)
        assert account.id is not None
        return account.id

    @token_app.command("create")
    def token_create(
        account: str,
        name: Annotated[str, typer.Option(help="What the token is for, e.g. 'Instantly'.")],
    ) -> None:
        """Create an API token; prints it once on stdout (only its hash is kept)."""
        from sync_engine.ingest import credentials

        rt = runtime()
        owner = account_id(account)
        with rt.db.write() as session:
            made = credentials.create_token(
                session=session, account_id=owner, name=name, actor=actor()
            )
        typer.echo(f"token {made.id} created; it is shown this once, store it now", err=True)
        typer.echo(made.token)

    @token_app.command("list")
    def token_list(account: str) -> None:
        """List an account's tokens: id, name, hint, created, last used, revoked."""
        from sync_engine.ingest import credentials

        rt = runtime()
        owner = account_id(account)
        with rt.db.read() as session:
            rows = credentials.list_tokens(session=session, account_id=owner)
            hint = credentials.signing_secret_hint(session=session, account_id=owner)
        for row in rows:
            used = row.last_used_at.isoformat() if row.last_used_at else "never used"
            state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active"
            typer.echo(
                f"{row.id}\t{row.name}\t{row.hint}…\t{row.created_at.isoformat()}\t{used}\t{state}"
            )
        typer.echo(f"signing secret: {hint or 'none (cwsync token secret ACCOUNT)'}", err=True)

    @token_app.command("revoke")
    def token_revoke(
        account: str, token_id: Annotated[int, typer.Argument(min=1, max=accounts.MAX_RECORD_ID)]
    ) -> None:
        """Revoke a token: refused from the next request on."""
        from sync_engine.ingest import credentials

        rt = runtime()
        owner = account_id(account)
        with rt.db.write() as session:
            credentials.revoke_token(
                session=session, account_id=owner, token_id=token_id, actor=actor(),
            )  # fmt: skip
        typer.echo(f"token {token_id} revoked", err=True)

    @token_app.command("secret")
    def token_secret(account: str) -> None:
        """Create or replace the account's Standard Webhooks signing secret; prints it once."""
        from sync_engine.ingest import credentials

        rt = runtime()
        owner = account_id(account)
        with rt.db.write() as session:
            secret = credentials.set_signing_secret(
                session=session, account_id=owner, box=rt.box, actor=actor()
            )
        typer.echo("signing secret set (any earlier one stops working); shown this once", err=True)
        typer.echo(secret)

    @app.command("serve")
    def serve(
        host: Annotated[
            str, typer.Option(help="Interface to listen on (loopback unless --allow-remote).")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535)] = DEFAULT_PORT,
        allow_remote: Annotated[
            bool,
            typer.Option(
                "--allow-remote",
                help="Listen on a non-loopback interface (put TLS in front of it).",
            ),
        ] = False,
        rate: Annotated[
            float, typer.Option(min=0.1, help="Requests per second per token.")
        ] = 100.0,
        burst: Annotated[int, typer.Option(min=1, help="Burst per token.")] = 200,
        max_body: Annotated[
            int, typer.Option(min=1024, help="Largest request body, in bytes.")
        ] = 1_048_576,
        auth_failures: Annotated[
            int,
            typer.Option(
                min=1,
                help="Failed authentications per client address before a 2-minute lockout "
                "(counted in the store: every process sharing it counts together).",
            ),
        ] = 20,
        workers: Annotated[
            int,
            typer.Option(
                min=1,
                max=32,
                help="Processes serving the port (the per-token rate limit is per process).",
            ),
        ] = 1,
    ) -> None:
        """Serve the ingest API (see README "Ingest API"); the engine syncs what it records."""
        from sync_engine.ingest.app import IngestConfig
        from sync_engine.ingest.server import is_loopback, run_ingest

        if not is_loopback(host) and not allow_remote:
            raise fail(
                f"--host {host} is not a loopback address: add --allow-remote to listen there "
                "(behind TLS)"
            )
        config = IngestConfig(
            max_body_bytes=max_body, rate_per_second=rate, burst=burst,
            auth_failures=auth_failures,
        )  # fmt: skip
        rt = runtime()
        shown = f"[{host}]" if ":" in host else host
        processes = f", {workers} processes" if workers > 1 else ""
        typer.echo(
            f"ingest API on http://{shown}:{port}/v1 (OpenAPI: /openapi.json){processes}", err=True
        )
        try:
            stopped_badly = run_ingest(rt, host=host, port=port, config=config, workers=workers)
        except OSError as exc:  # the port is taken, or the address is not this machine's
            raise fail(f"cannot listen on {shown}:{port}: {exc.strerror or exc}") from None
        if stopped_badly:
            raise typer.Exit(code=1)

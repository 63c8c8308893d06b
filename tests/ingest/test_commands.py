"""`cwsync token …` and `cwsync serve`: tokens shown once and kept hashed, revocation, the
signing secret, and serve's refusal of a non-loopback interface without --allow-remote."""

from __future__ import annotations

import pytest
from sqlmodel import select

from sync_engine.ingest.credentials import token_hash
from sync_engine.ingest.models import IngestSecret, IngestToken
from sync_engine.ingest.server import is_loopback
from sync_engine.models import AuditEntry
from tests.factories import make_runtime


def test_a_token_is_printed_once_stored_hashed_listed_and_revoked(cli, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    assert cli("account", "add", "Acme Talent")[0] == 0
    code, out, err = cli("token", "create", "Acme Talent", "--name", "Instantly")
    token = out.strip()
    assert code == 0 and token.startswith("cwk_") and "shown this once" in err
    code, out, _ = cli("token", "list", "Acme Talent")
    assert code == 0 and "Instantly" in out and "never used" in out and token not in out
    assert cli("token", "revoke", "Acme Talent", "1") == (0, "", "token 1 revoked\n")
    assert "revoked" in cli("token", "list", "Acme Talent")[1]
    assert cli("token", "revoke", "Acme Talent", "7")[2] == "cwsync: no token 7 for this account\n"
    runtime = make_runtime(sqlite_url)
    with runtime.db.read() as session:
        row = session.exec(select(IngestToken)).one()
        audit = session.exec(select(AuditEntry).where(AuditEntry.entity == "ingest_token")).all()
    runtime.close()
    assert row.token_hash == token_hash(token) and row.revoked_at is not None
    assert [entry.field for entry in audit] == ["created", "revoked"]
    assert all(entry.actor.startswith("cli") for entry in audit)


def test_the_signing_secret_is_printed_once_and_stored_encrypted(cli, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    assert cli("account", "add", "Acme Talent")[0] == 0
    code, out, _ = cli("token", "secret", "Acme Talent")
    secret = out.strip()
    assert code == 0 and secret.startswith("whsec_")
    runtime = make_runtime(sqlite_url)
    with runtime.db.read() as session:
        row = session.exec(select(IngestSecret)).one()
    runtime.close()
    assert secret not in row.secret_token and secret[6:] not in row.secret_token
    assert "whsec_" in cli("token", "list", "Acme Talent")[2]


def test_token_commands_answer_bad_input_in_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("token", "create", "Nobody", "--name", "x")[2] == (
        "cwsync: no account 'Nobody' (give its id or exact name)\n"
    )
    assert cli("account", "add", "Acme Talent")[0] == 0
    code, _, err = cli("token", "create", "Acme Talent", "--name", " ")
    assert code == 2 and err == "cwsync: token name must be 1 to 100 characters\n"


def test_serve_refuses_a_non_loopback_interface_without_allow_remote(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("serve", "--host", "0.0.0.0")
    assert code == 2
    assert err == (
        "cwsync: --host 0.0.0.0 is not a loopback address: add --allow-remote to listen there "
        "(behind TLS)\n"
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("example.com", False)],
)  # fmt: skip
def test_which_hosts_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback

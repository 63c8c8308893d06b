"""Accounts, settings, sequences and connections through the service layer, on both backends."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from sync_engine import connections
from sync_engine.audit import list_entries
from sync_engine.clockwork.client import Credentials
from sync_engine.models import ConnectionState, SyncMode
from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from sync_engine.services.errors import ConnectionRejectedError, InvalidInputError, NotFoundError
from tests.factories import (
    SIM_KEYS,
    connection_fields,
    make_connected_account,
    make_runtime,
)


def _new_account(runtime: Runtime, name: str = "Acme Talent") -> int:
    with runtime.db.write() as session:
        account = accounts.create_account(session=session, name=name, actor="t")
    assert account.id is not None
    return account.id


def test_new_account_starts_with_the_seed_defaults(runtime: Runtime) -> None:
    account_id = _new_account(runtime)
    with runtime.db.read() as session:
        settings = accounts.get_settings(session=session, account_id=account_id)
        by_name = accounts.get_account(session=session, ref="Acme Talent")
    assert by_name.id == account_id
    assert (settings.sync_mode, settings.deduplication, settings.activity_tracking) == (
        SyncMode.ON_ADD, True, True,
    )  # fmt: skip
    assert settings.default_project_id is None


def test_account_names_are_unique_and_lookups_say_what_is_missing(runtime: Runtime) -> None:
    _new_account(runtime)
    with pytest.raises(InvalidInputError, match="already exists"), runtime.db.write() as session:
        accounts.create_account(session=session, name=" Acme Talent ", actor="t")
    with pytest.raises(NotFoundError, match="no account 'Nobody'"), runtime.db.read() as session:
        accounts.get_account(session=session, ref="Nobody")


def test_settings_changes_are_validated_and_audited_old_to_new(runtime: Runtime) -> None:
    account_id = _new_account(runtime)
    with runtime.db.write() as session:
        accounts.update_settings(
            session=session, account_id=account_id, actor="alice",
            changes={"sync_mode": "on_reply", "default_project_id": "proj-1"},
        )  # fmt: skip
    with pytest.raises(InvalidInputError, match="sync_mode"), runtime.db.write() as session:
        accounts.update_settings(
            session=session, account_id=account_id, actor="alice",
            changes={"sync_mode": "sometimes"},
        )  # fmt: skip
    with pytest.raises(InvalidInputError, match="project id"), runtime.db.write() as session:
        accounts.update_settings(
            session=session, account_id=account_id, actor="alice",
            changes={"default_project_id": "<script>"},
        )  # fmt: skip
    with runtime.db.read() as session:
        entries = list_entries(session=session, account_id=account_id)
    changes = {(e.field, e.old_value, e.new_value, e.actor) for e in entries}
    assert ("sync_mode", "on_add", "on_reply", "alice") in changes
    assert ("default_project_id", None, "proj-1", "alice") in changes


def test_connect_verifies_then_stores_credentials_masked(runtime: Runtime) -> None:
    account_id = _new_account(runtime)
    summary = accounts.connect(
        runtime, account_id=account_id, fields=connection_fields(), actor="alice"
    )
    assert summary.state == ConnectionState.CONNECTED
    assert summary.api_key_hint == "****001"  # a quarter of the key, at most 4 characters
    with runtime.db.read() as session:
        creds = connections.connection_credentials(
            session=session, box=runtime.box, account_id=account_id
        )
        audit = list_entries(session=session, account_id=account_id)
    assert creds is not None and creds.api_secret == SIM_KEYS["api_secret"]
    audited = " ".join(f"{e.old_value} {e.new_value}" for e in audit)
    for secret in SIM_KEYS.values():
        assert secret not in audited


def test_the_audit_says_keys_saved_then_replaced_and_not_when_they_stay(runtime: Runtime) -> None:
    account_id = _new_account(runtime)

    def connect_and_read_keys_entries(**override: str) -> list[str | None]:
        fields = connection_fields(**override)
        accounts.connect(runtime, account_id=account_id, fields=fields, actor="alice")
        with runtime.db.read() as session:
            audit = list_entries(session=session, account_id=account_id)
        return [e.new_value for e in audit if e.field == "credentials"]

    assert connect_and_read_keys_entries() == ["set"]  # a first connection saves keys
    assert connect_and_read_keys_entries() == ["set"]  # the same keys again: nothing replaced
    accounts.reverify(runtime, account_id=account_id, actor="alice")
    with runtime.db.write() as session:
        accounts.disconnect(session=session, account_id=account_id, actor="alice")
    assert sorted(connect_and_read_keys_entries(), key=str) == ["set", "set"]
    with runtime.db.read() as session:
        row = connections.get_connection(session=session, account_id=account_id)
    assert row is not None
    given = Credentials(**{**connection_fields(), "api_secret": "other"})
    assert connections.credentials_change(box=runtime.box, row=row, given=given) == "updated"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"api_secret": "wrong"}, "rejected the credentials"),
        ({"firm_service_key": "wrong"}, "rejected the credentials"),
        ({"firm": "nosuchfirm"}, "no firm 'nosuchfirm'"),
        ({"firm": "Not A Subdomain!"}, "firm"),
        ({"base_url": "ftp://x"}, "base URL"),
        ({"api_key": "   "}, "api_key"),
    ],
)
def test_connect_refuses_bad_credentials_and_stores_nothing(
    runtime: Runtime, override: dict[str, str], message: str
) -> None:
    account_id = _new_account(runtime)
    with pytest.raises((ConnectionRejectedError, InvalidInputError), match=message):
        accounts.connect(
            runtime, account_id=account_id, fields=connection_fields(**override), actor="t"
        )
    with runtime.db.read() as session:
        assert connections.get_connection(session=session, account_id=account_id) is None


def test_disconnect_forgets_credentials_but_keeps_the_firm(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime)
    with runtime.db.write() as session:
        accounts.disconnect(session=session, account_id=account_id, actor="t")
    with runtime.db.read() as session:
        row = connections.get_connection(session=session, account_id=account_id)
        creds = connections.connection_credentials(
            session=session, box=runtime.box, account_id=account_id
        )
    assert row is not None and row.state == ConnectionState.DISCONNECTED
    assert row.api_key_token == "" and creds is None
    with pytest.raises(InvalidInputError, match="not connected"), runtime.db.write() as session:
        accounts.disconnect(session=session, account_id=account_id, actor="t")


def test_needs_attention_then_reconnect_restores_connected(runtime: Runtime) -> None:
    account_id = make_connected_account(runtime)
    with runtime.db.write() as session:
        connections.mark_needs_attention(
            session=session, account_id=account_id, error="401 rejected"
        )
    with runtime.db.read() as session:
        summary = accounts.connection_summary(session=session, account_id=account_id)
    assert summary is not None and summary.state == ConnectionState.NEEDS_ATTENTION
    accounts.connect(runtime, account_id=account_id, fields=connection_fields(), actor="t")
    with runtime.db.read() as session:
        summary = accounts.connection_summary(session=session, account_id=account_id)
    assert summary is not None and summary.state == ConnectionState.CONNECTED


def test_sequence_syncing_tab_is_validated_and_audited(runtime: Runtime) -> None:
    account_id = _new_account(runtime)
    with runtime.db.write() as session:
        sequence = accounts.add_sequence(
            session=session, account_id=account_id, name="CFO search", actor="bob",
        )  # fmt: skip
        assert sequence.id is not None
        accounts.update_sequence(
            session=session, sequence_id=sequence.id, actor="bob",
            changes={"disable_sync": True, "project_id": "p-42"},
        )  # fmt: skip
    with pytest.raises(InvalidInputError, match="name"), runtime.db.write() as session:
        accounts.add_sequence(session=session, account_id=account_id, name="", actor="bob")
    with runtime.db.read() as session:
        (listed,) = accounts.list_sequences(session=session, account_id=account_id)
        fields = {e.field for e in list_entries(session=session, account_id=account_id)}
    assert listed.disable_sync and listed.project_id == "p-42"
    assert {"disable_sync", "project_id"} <= fields


def test_no_credential_is_stored_in_clear(runtime: Runtime, database_url: str) -> None:
    """Grep the whole store (file bytes on SQLite, every row as text on PostgreSQL)."""
    make_connected_account(runtime)
    runtime.db.dispose()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        blob = b"".join(
            p.read_bytes() for p in Path(url.database or "").parent.glob("store.db*")
        ).decode("latin-1")
    else:
        engine = sa.create_engine(database_url)
        with engine.connect() as conn:
            tables = conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).scalars()
            blob = " ".join(
                str(row)
                for table in list(tables)
                for row in conn.exec_driver_sql(f'SELECT * FROM "{table}"')
            )
        engine.dispose()
    assert "northwind" in blob  # the firm name is there, so the grep does see the data
    for secret in SIM_KEYS.values():
        assert secret not in blob


def test_demo_key_file_is_created_owner_only_and_reused(tmp_path: Path) -> None:
    from sync_engine.config import Settings
    from sync_engine.crypto import load_secret_box

    settings = Settings(_env_file=None, key_file=tmp_path / "data" / "secret.key")  # type: ignore[call-arg]
    box = load_secret_box(settings)
    token = box.encrypt("s3cret")
    assert (settings.key_file.stat().st_mode & 0o777) == 0o600
    assert load_secret_box(settings).decrypt(token) == "s3cret"
    assert "s3cret" not in token


def test_a_lease_shorter_than_four_request_timeouts_is_refused() -> None:
    from pydantic import ValidationError

    from sync_engine.config import Settings

    with pytest.raises(ValidationError, match="lease_seconds must be at least 4"):
        Settings(_env_file=None, lease_seconds=30, http_timeout_seconds=15)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("base_url", "accepted"),
    [
        ("https://api.clockworkrecruiting.com", True),
        ("http://127.0.0.1:8765", True),
        ("http://localhost:8765", True),
        ("http://[::1]:8765", True),
        ("http://clockwork.example", False),
        ("http://10.0.0.5", False),
    ],
)
def test_plain_http_is_refused_unless_the_server_is_on_this_machine(
    sqlite_url: str, base_url: str, accepted: bool
) -> None:
    refusing = httpx.MockTransport(lambda request: httpx.Response(401))
    rt = make_runtime(sqlite_url, transport=refusing, allow_insecure_http=False)
    with rt.db.write() as session:
        account = accounts.create_account(session=session, name="T", actor="t")
    assert account.id is not None
    if accepted:  # sent, and refused by Clockwork (the keys are made up)
        with pytest.raises(ConnectionRejectedError):
            accounts.connect(
                rt, account_id=account.id, fields=connection_fields(base_url), actor="t"
            )
    else:
        with pytest.raises(InvalidInputError, match="https://"):
            accounts.connect(
                rt, account_id=account.id, fields=connection_fields(base_url), actor="t"
            )
    rt.close()

"""Plain factory functions and fakes for tests: a settable clock, a wired runtime, the CLI run in
this process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from clockwork_simulator import SimulatorState
from sync_engine.cli import common as cli_common
from sync_engine.cli import main as cli_main
from sync_engine.config import Settings
from sync_engine.models import ClockworkConnection, ConnectionState, Enrollment
from sync_engine.runtime import Runtime, build_runtime
from sync_engine.services import accounts, enrollments

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# httpx builds a TLS context for each client, even one that only speaks http://, reading the CA
# bundle (~40 ms of CPU); the tests' clients of their own loopback servers share this one.
LOOPBACK_TLS = httpx.create_ssl_context()


class FakeClock:
    """A clock that only moves when told to; call it for "now"."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move time forward and return the new now."""
        self.now += timedelta(seconds=seconds)
        return self.now


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings for a test store: a fresh encryption key, no demo, no .env influence."""
    values: dict[str, object] = {
        "database_url": database_url,
        "encryption_key": Fernet.generate_key().decode(),
        "demo": False,
        "allow_insecure_http": True,  # the in-memory simulator answers at http://sim.test
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def make_runtime(
    database_url: str,
    *,
    clock: FakeClock | None = None,
    transport: httpx.BaseTransport | None = None,
    **overrides: object,
) -> Runtime:
    """A runtime over a migrated test store, with a fake clock and an optional transport."""
    return build_runtime(
        make_settings(database_url, **overrides),
        clock=clock or FakeClock(),
        transport=transport,
    )


SIM_FIRM = "northwind"
SIM_KEYS = {
    "api_key": "nw-api-key-0001",
    "api_secret": "nw-api-secret-0002",
    "firm_service_key": "nw-firm-service-key-0003",
}


def make_sim_state() -> SimulatorState:
    """A simulator store with one firm (``SIM_FIRM``, ``SIM_KEYS``) and its seeded projects."""
    state = SimulatorState()
    state.add_firm(SIM_FIRM, **SIM_KEYS)
    return state


def connection_fields(base_url: str = "http://sim.test", **overrides: str) -> dict[str, str]:
    """What staff would type to connect ``SIM_FIRM``."""
    fields = {"firm": SIM_FIRM, "base_url": base_url, **SIM_KEYS}
    fields.update(overrides)
    return fields


def connect_args(base_url: str, account: str = "Acme", **overrides: str) -> list[str]:
    """The ``cwsync connect`` arguments that connect ``account`` to ``SIM_FIRM`` at ``base_url``."""
    fields = connection_fields(base_url, **overrides)
    options = [(f"--{name.replace('_', '-')}", value) for name, value in fields.items()]
    return ["connect", account, *(word for option in options for word in option)]


def make_account(runtime: Runtime, name: str = "Acme Talent") -> int:
    """An account with no connection yet; returns its id."""
    with runtime.db.write() as session:
        account = accounts.create_account(session=session, name=name, actor="test")
    assert account.id is not None
    return account.id


def make_connected_account(
    runtime: Runtime,
    name: str = "Acme Talent",
    *,
    base_url: str = "http://sim.test",
    **settings: object,
) -> int:
    """An account connected to ``SIM_FIRM`` (at ``base_url``, or through ``runtime``'s transport);
    returns its id."""
    account_id = make_account(runtime, name)
    accounts.connect(
        runtime, account_id=account_id, fields=connection_fields(base_url), actor="test"
    )
    if settings:
        set_settings(runtime, account_id, **settings)
    return account_id


def set_settings(runtime: Runtime, account_id: int, **changes: object) -> None:
    """Change the account's sync settings through the service, as staff would."""
    with runtime.db.write() as session:
        accounts.update_settings(
            session=session, account_id=account_id, changes=changes, actor="test"
        )


def set_enrollment(runtime: Runtime, enrollment_id: int, **columns: object) -> None:
    """Write an enrollment's outcome columns (``status``, ``reason``...) as the engine would."""
    with runtime.db.write() as session:
        enrollment = session.get(Enrollment, enrollment_id)
        assert enrollment is not None
        for name, value in columns.items():
            setattr(enrollment, name, value)
        session.add(enrollment)


def set_connection_state(
    runtime: Runtime, account_id: int, state: ConnectionState, *, last_error: str
) -> None:
    """Put the account's stored connection in ``state`` with ``last_error``, storing one with empty
    secrets if it has none: a rejected connection without asking Clockwork."""
    with runtime.db.write() as session:
        row = session.exec(
            select(ClockworkConnection).where(ClockworkConnection.account_id == account_id)
        ).first() or ClockworkConnection(
            account_id=account_id, firm=SIM_FIRM, base_url="http://127.0.0.1:1",
            api_key_token="", api_secret_token="", firm_service_key_token="", api_key_hint="",
        )  # fmt: skip
        row.state = state
        row.last_error = last_error
        session.add(row)


def make_sequence(runtime: Runtime, account_id: int, name: str = "VP Eng", **fields: object) -> int:
    """A sequence of the account; returns its id."""
    with runtime.db.write() as session:
        sequence = accounts.add_sequence(
            session=session, account_id=account_id, name=name, actor="test", **fields,  # type: ignore[arg-type]
        )  # fmt: skip
    assert sequence.id is not None
    return sequence.id


def enroll(runtime: Runtime, sequence_id: int, email: str, **fields: str) -> int:
    """Add a contact to a sequence (the add trigger); returns the enrollment id."""
    contact = enrollments.parse_contact({"email": email, **fields})
    with runtime.db.write() as session:
        enrollment = enrollments.add_contact(
            session=session, sequence_id=sequence_id, contact=contact
        )
    assert enrollment.id is not None
    return enrollment.id


REFUSED_LINKEDIN_URL = "https://www.linkedin.com/in/frances allen"  # a space: Clockwork refuses it


def enroll_refused_contact(runtime: Runtime, sequence_id: int) -> int:
    """The demo's refused contact, Frances Allen, enrolled in the sequence: Clockwork creates her,
    then refuses her LinkedIn URL (a 422), so the engine's pass fails her. The enrollment id."""
    return enroll(
        runtime, sequence_id, "frances.allen@litware.com", first_name="Frances",
        last_name="Allen", title="Engineering Manager", company="Litware",
        linkedin_url=REFUSED_LINKEDIN_URL,
    )  # fmt: skip


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``cwsync ARGS`` in this process, from a fresh start: (exit code, stdout, stderr)."""
    cli_common.state.runtime = None
    with pytest.raises(SystemExit) as exit_info:
        cli_main(list(args))
    captured = capsys.readouterr()
    if cli_common.state.runtime is not None:
        cli_common.state.runtime.close()
    return int(exit_info.value.code or 0), captured.out, captured.err

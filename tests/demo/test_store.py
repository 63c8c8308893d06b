"""Demo mode keeps to demo stores (issue 12, item 1): each attack on a customer's store is refused
by ``cwsync demo``, ``seed_demo`` and the reset itself, whatever is connected; an empty store
becomes a demo store and stays one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

import sync_engine.demo.seed as demo_seed
from clockwork_simulator import mock_transport
from sync_engine.demo import DemoSimulator, DemoStoreError, claim_demo_store, seed_demo
from sync_engine.models import AuditEntry, ClockworkConnection
from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from sync_engine.store_meta import KIND, get_meta
from tests.factories import (
    make_connected_account,
    make_runtime,
    make_sim_state,
    run_cli,
)

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def customer_store(database_url: str, key: str) -> Iterator[Runtime]:
    """A customer's store: one account with a contact's worth of history, never a demo."""
    runtime = make_runtime(
        database_url, transport=mock_transport(make_sim_state()), encryption_key=key
    )
    with runtime.db.write() as session:
        accounts.create_account(session=session, name="Real Corp", actor="staff")
    yield runtime
    runtime.close()


@pytest.fixture
def cli(
    database_url: str,
    key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    monkeypatch.setenv("CWSYNC_DATABASE_URL", database_url)
    monkeypatch.setenv("CWSYNC_ENCRYPTION_KEY", key)
    monkeypatch.chdir(tmp_path)

    return partial(run_cli, capsys)


def _names(runtime: Runtime) -> list[str]:
    with runtime.db.read() as session:
        return [account.name for account in accounts.list_accounts(session=session)]


def test_cwsync_demo_reset_refuses_a_store_whose_account_never_connected(
    customer_store: Runtime, cli: Cli, demo_simulator: DemoSimulator
) -> None:
    code, _, err = cli("demo", "--reset", "--simulator-url", demo_simulator.base_url)

    assert code == 2
    assert err.startswith("cwsync: Demo mode refuses to open this store: it was not created as")
    assert len(err.strip().splitlines()) == 1
    assert _names(customer_store) == ["Real Corp"]


def test_cwsync_demo_reset_refuses_a_store_whose_firm_was_disconnected(
    customer_store: Runtime, cli: Cli, demo_simulator: DemoSimulator
) -> None:
    account_id = make_connected_account(
        customer_store, "Real Firm", base_url="https://api.clockworkrecruiting.com"
    )
    with customer_store.db.write() as session:
        accounts.disconnect(session=session, account_id=account_id, actor="staff")

    code, _, err = cli("demo", "--reset", "--simulator-url", demo_simulator.base_url)

    assert code == 2 and "not created as a demo store" in err
    assert _names(customer_store) == ["Real Corp", "Real Firm"]
    with customer_store.db.read() as session:
        assert session.exec(select(AuditEntry)).all()  # the audit log is still there


def test_the_simulator_host_setting_does_not_let_demo_mode_onto_a_connected_firm(
    customer_store: Runtime,
    cli: Cli,
    demo_simulator: DemoSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_connected_account(
        customer_store, "Real Firm", base_url="https://api.clockworkrecruiting.com"
    )
    monkeypatch.setenv("CWSYNC_SIMULATOR_HOST", "api.clockworkrecruiting.com")

    code, _, err = cli("demo", "--reset", "--simulator-url", demo_simulator.base_url)

    assert code == 2 and "Demo mode refuses" in err
    assert _names(customer_store) == ["Real Corp", "Real Firm"]


def test_seed_demo_reset_checks_the_store_again_at_the_moment_of_reset(
    customer_store: Runtime, demo_simulator: DemoSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the store had passed the check when demo mode opened (the dashboard checks once per
    # process): the wipe itself must refuse.
    monkeypatch.setattr(demo_seed, "claim_demo_store", lambda runtime: None)

    with pytest.raises(DemoStoreError, match="will not reset this store"):
        seed_demo(customer_store, demo_simulator.base_url, reset=True)

    assert _names(customer_store) == ["Real Corp"]


def test_seed_demo_refuses_a_store_that_is_not_a_demo_store(
    customer_store: Runtime, demo_simulator: DemoSimulator
) -> None:
    with pytest.raises(DemoStoreError, match="not created as a demo store"):
        seed_demo(customer_store, demo_simulator.base_url)
    with pytest.raises(DemoStoreError):
        seed_demo(customer_store, demo_simulator.base_url, reset=True)
    assert _names(customer_store) == ["Real Corp"]


def test_an_empty_store_becomes_a_demo_store_that_demo_mode_may_reset(
    database_url: str, demo_simulator: DemoSimulator
) -> None:
    runtime = make_runtime(database_url)
    try:
        with runtime.db.read() as session:
            assert get_meta(session=session, key=KIND) is None
        first = seed_demo(runtime, demo_simulator.base_url)
        with runtime.db.read() as session:
            assert get_meta(session=session, key=KIND) == "demo"
        again = seed_demo(runtime, demo_simulator.base_url, reset=True)
        assert first.seeded and again.seeded
        with runtime.db.read() as session:
            assert get_meta(session=session, key=KIND) == "demo"  # the reset keeps the mark
        assert len(_names(runtime)) == 4
    finally:
        runtime.close()


def test_a_store_made_outside_demo_mode_is_not_a_demo_store_once_it_has_data(
    database_url: str,
) -> None:
    runtime = make_runtime(database_url)
    try:
        with runtime.db.write() as session:
            accounts.create_account(session=session, name="Acme", actor="t")
        with pytest.raises(DemoStoreError):
            claim_demo_store(runtime)
        with runtime.db.read() as session:
            assert get_meta(session=session, key=KIND) is None
    finally:
        runtime.close()


def test_a_demo_store_holding_a_real_firm_is_refused_too(database_url: str) -> None:
    runtime = make_runtime(database_url, transport=mock_transport(make_sim_state()))
    try:
        claim_demo_store(runtime)
        make_connected_account(runtime, "Demo", base_url="http://127.0.0.1:8765")
        claim_demo_store(runtime)
        make_connected_account(runtime, "Real", base_url="https://api.clockworkrecruiting.com")
        with pytest.raises(DemoStoreError, match=r"Real \(https://api.clockworkrecruiting.com\)"):
            claim_demo_store(runtime)
        with runtime.db.read() as session:
            assert len(session.exec(select(ClockworkConnection)).all()) == 2
    finally:
        runtime.close()

"""One data directory and the key checked against the store (issue 12, items 3 and 9): paths do
not depend on the working directory, no second key is generated for a store holding credentials,
a wrong key is named as such, and a new SQLite store is readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from clockwork_simulator import mock_transport
from sync_engine import connections
from sync_engine.config import Settings
from sync_engine.crypto import SecretKeyError, key_fingerprint
from sync_engine.db import Database, migrate
from sync_engine.runtime import build_runtime
from sync_engine.services import accounts, projects
from sync_engine.services.errors import ServiceError
from sync_engine.store_meta import KEY_FINGERPRINT, get_meta
from tests.factories import FakeClock, connection_fields, make_connected_account, make_sim_state


def _settings(**values: object) -> Settings:
    values.setdefault("allow_insecure_http", True)  # the in-memory simulator is http://sim.test
    return Settings(_env_file=None, demo=False, **values)  # type: ignore[call-arg]


def test_default_paths_are_the_same_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATA_DIR", "DATABASE_URL", "KEY_FILE", "SIMULATOR_STATE_FILE"):
        monkeypatch.delenv(f"CWSYNC_{name}", raising=False)
    seen = set()
    for where in (tmp_path / "a", tmp_path / "b"):
        where.mkdir()
        monkeypatch.chdir(where)
        settings = _settings()
        seen.add((settings.database_url, settings.key_file, settings.simulator_state_file))
    assert len(seen) == 1
    url, key_file, state_file = seen.pop()
    data = Path(__file__).resolve().parents[2] / "data"  # this checkout's data/
    assert url == f"sqlite:///{data / 'cwsync.db'}"
    assert key_file == data / "secret.key" and state_file == data / "simulator.json"


def test_cwsync_data_dir_moves_every_default_path_and_explicit_ones_win(tmp_path: Path) -> None:
    settings = _settings(data_dir=tmp_path / "d")
    assert settings.data_dir == tmp_path / "d"
    assert settings.database_url == f"sqlite:///{tmp_path / 'd' / 'cwsync.db'}"
    assert settings.key_file == tmp_path / "d" / "secret.key"
    assert settings.simulator_state_file == tmp_path / "d" / "simulator.json"
    explicit = _settings(data_dir=tmp_path / "d", key_file=tmp_path / "k")
    assert explicit.key_file == tmp_path / "k"


def _store_with_credentials(tmp_path: Path) -> Settings:
    """A store in ``tmp_path/data`` holding one connection, encrypted with its key file."""
    settings = _settings(data_dir=tmp_path / "data")
    runtime = build_runtime(settings, transport=mock_transport(make_sim_state()))
    make_connected_account(runtime)
    runtime.close()
    assert settings.key_file.exists()
    return settings


def test_a_missing_key_file_is_an_error_naming_it_not_a_second_key(tmp_path: Path) -> None:
    settings = _store_with_credentials(tmp_path)
    elsewhere = tmp_path / "elsewhere" / "secret.key"  # e.g. a relative default, another cwd

    with pytest.raises(SecretKeyError) as raised:
        build_runtime(settings.model_copy(update={"key_file": elsewhere}))

    assert str(elsewhere) in str(raised.value) and "does not exist" in str(raised.value)
    assert not elsewhere.exists()


def test_a_store_without_credentials_gets_a_key_file_made_0600(tmp_path: Path) -> None:
    settings = _settings(data_dir=tmp_path / "data")
    build_runtime(settings).close()
    assert stat.S_IMODE(settings.key_file.stat().st_mode) == 0o600


def test_a_wrong_key_is_named_as_such(tmp_path: Path) -> None:
    settings = _store_with_credentials(tmp_path)
    right = settings.key_file.read_bytes().strip()
    wrong = Fernet.generate_key()
    settings.key_file.write_bytes(wrong)

    runtime = build_runtime(settings)
    try:
        problem = runtime.key_problem
        assert problem is not None and problem.account_ids == (1,)
        assert f"the key file {settings.key_file}" in problem.message
        assert f"(fingerprint {key_fingerprint(wrong)}) is not the key" in problem.message
        assert f"(fingerprint {key_fingerprint(right)})" in problem.message
        with runtime.db.read() as session, pytest.raises(SecretKeyError, match="is not the key"):
            connections.connection_credentials(session=session, box=runtime.box, account_id=1)
        with runtime.db.read() as session:
            assert get_meta(session=session, key=KEY_FINGERPRINT) == key_fingerprint(right)
    finally:
        runtime.close()


def test_the_fingerprint_follows_the_key_once_every_credential_is_re_entered(
    tmp_path: Path,
) -> None:
    settings = _store_with_credentials(tmp_path)
    new_key = Fernet.generate_key()
    settings.key_file.write_bytes(new_key)
    runtime = build_runtime(settings, transport=mock_transport(make_sim_state()))
    assert runtime.key_problem is not None
    accounts.connect(runtime, account_id=1, fields=connection_fields(), actor="staff")
    runtime.close()

    again = build_runtime(settings)
    try:
        assert again.key_problem is None
        with again.db.read() as session:
            assert get_meta(session=session, key=KEY_FINGERPRINT) == key_fingerprint(new_key)
    finally:
        again.close()


def test_the_project_picker_says_the_key_is_wrong_as_a_service_error(tmp_path: Path) -> None:
    settings = _store_with_credentials(tmp_path)
    settings.key_file.write_bytes(Fernet.generate_key())
    runtime = build_runtime(settings, transport=mock_transport(make_sim_state()))
    try:
        with pytest.raises(ServiceError, match="is not the key this store's credentials were"):
            projects.firm_projects(runtime, account_id=1)
    finally:
        runtime.close()


def test_a_key_file_that_is_a_directory_is_one_clear_error(tmp_path: Path) -> None:
    settings = _settings(data_dir=tmp_path / "data", key_file=tmp_path / "dir")
    (tmp_path / "dir").mkdir()
    with pytest.raises(SecretKeyError, match=f"the key file {tmp_path / 'dir'} cannot be read"):
        build_runtime(settings)


def test_a_new_sqlite_store_is_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "new" / "cwsync.db"
    database = Database(f"sqlite:///{path}")
    migrate(database)
    database.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_the_store_records_the_key_fingerprint_at_start_up(sqlite_url: str) -> None:
    key = Fernet.generate_key().decode()
    runtime = build_runtime(
        _settings(database_url=sqlite_url, encryption_key=key), clock=FakeClock()
    )
    try:
        with runtime.db.read() as session:
            assert get_meta(session=session, key=KEY_FINGERPRINT) == key_fingerprint(key)
        assert runtime.box.source == "CWSYNC_ENCRYPTION_KEY"
    finally:
        runtime.close()

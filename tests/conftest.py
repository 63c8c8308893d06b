"""Fixtures shared by every suite: the storage backends (SQLite and a real PostgreSQL).

Also the simulator on a real socket (``sim_server``, ``sim``), a fake ``clock``, ``runtime`` (a
runtime on the test's store talking to ``sim_state`` through a MockTransport), and ``cli``: the
command line run in this process.

Storage tests take ``database_url``, which runs each test once per backend. PostgreSQL comes
from ``CWSYNC_TEST_POSTGRES_URL`` (an admin URL; ``.ci/run`` starts a server and sets it). Without
it the PostgreSQL runs are skipped with a reason, unless ``CWSYNC_REQUIRE_POSTGRES=1`` (set in
CI), where a missing server fails the run. The summary prints which backends actually ran.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from clockwork_simulator import SimulatorServer, SimulatorState, mock_transport
from sync_engine.db import Database, migrate
from sync_engine.demo import DemoSimulator
from sync_engine.runtime import Runtime
from tests import postgres
from tests.factories import FakeClock, make_runtime, make_settings, make_sim_state, run_cli

_backends_ran: dict[str, int] = {}


def _require_postgres() -> bool:
    return os.environ.get("CWSYNC_REQUIRE_POSTGRES", "") not in ("", "0", "false")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating per test would dominate the run)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    database = Database(f"sqlite:///{path}")
    migrate(database)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[tuple[str, str]]:
    """(admin URL, template database name): a migrated database that tests clone."""
    admin_url = os.environ.get("CWSYNC_TEST_POSTGRES_URL")
    if not admin_url:
        message = "PostgreSQL not configured (set CWSYNC_TEST_POSTGRES_URL)"
        if _require_postgres():
            pytest.fail(message + " but CWSYNC_REQUIRE_POSTGRES is set")
        pytest.skip(message)
    if problem := postgres.unreachable(admin_url):
        if _require_postgres():
            pytest.fail(f"PostgreSQL at {problem}")
        pytest.skip(f"PostgreSQL at {problem}")
    template, template_url = postgres.create_database(admin_url, "cwsync_tpl")
    database = Database(template_url)
    migrate(database)
    database.dispose()
    yield admin_url, template
    postgres.drop_database(admin_url, template)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty store URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        _backends_ran["sqlite"] = _backends_ran.get("sqlite", 0) + 1
        yield f"sqlite:///{path}"
        return
    admin_url, template = request.getfixturevalue("_postgres_template")
    _backends_ran["postgresql"] = _backends_ran.get("postgresql", 0) + 1
    with postgres.fresh_database(admin_url, "cwsync_t", template=template) as url:
        yield url


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite store, for tests that are not about the backend."""
    path = tmp_path / "store.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    return FakeClock()


@pytest.fixture
def sim_state() -> SimulatorState:
    """A fresh simulator store with one firm (``SIM_FIRM``), the Clockwork of ``runtime``."""
    return make_sim_state()


@pytest.fixture
def runtime(database_url: str, sim_state: SimulatorState, clock: FakeClock) -> Iterator[Runtime]:
    """A runtime on this test's store (each backend) on the fake ``clock``, reaching ``sim_state``
    through a MockTransport (no socket)."""
    rt = make_runtime(database_url, clock=clock, transport=mock_transport(sim_state))
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimulatorServer]:
    """The Clockwork simulator on a real loopback socket, shared by the run."""
    with SimulatorServer(SimulatorState()) as server:
        yield server


@pytest.fixture
def sim(sim_server: SimulatorServer) -> Iterator[SimulatorState]:
    """This test's Clockwork: a fresh firm (``SIM_FIRM``) on the shared socket, no faults."""
    state = make_sim_state()
    sim_server.use_state(state)
    sim_server.set_faults(None)
    yield state
    sim_server.set_faults(None)


@pytest.fixture
def cli(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., tuple[int, str, str]]:
    """``cli(*args)`` runs ``cwsync ARGS`` in this process on this test's SQLite store, from an
    empty working directory: (exit code, stdout, stderr)."""
    monkeypatch.setenv("CWSYNC_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CWSYNC_ENCRYPTION_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("CWSYNC_DEFAULT_MAX_RPS", "500")
    monkeypatch.chdir(tmp_path)
    return functools.partial(run_cli, capsys)


# What the quick run (``-m "not slow"``) leaves to the full one: whatever boots something big
# (a browser, the whole app in an AppTest, cwsync processes, the seeded demo), the end-to-end
# fault and crash scenarios, and the second storage backend (each test's SQLite run stays).
_SLOW_FOLDERS = {"e2e", "reliability"}
_SLOW_MODULES = {
    "sync_engine/test_cli_story.py",  # the README's command block, as cwsync processes
    "sync_engine/test_dashboard_command.py",  # starts cwsync dashboard
    "demo/test_seed.py",  # seeds and syncs the whole demo
    "demo/test_store.py",
    "demo/test_hints.py",
    "sync_engine/engine/test_isolation.py",  # firms in trouble for seconds, on a real socket
    "sync_engine/engine/test_scheduler.py",  # the scheduler's passes, in real time
    "alerts/test_live.py",  # the demo, its scheduler and a receiver, in real time
    "verify/test_demo_drift.py",  # seeds the whole demo and syncs it
}
_APP_TEST_HELPERS = {("streamlit.testing.v1.app_test", "AppTest")} | {
    ("tests.dashboard.conftest", name) for name in ("open_page", "new_app", "call_action")
}


def _boots_the_app(item: pytest.Item) -> bool:
    """Whether the test's module runs the dashboard in an AppTest (it imports the helpers)."""
    module = getattr(item, "module", None)
    return module is not None and any(
        (getattr(value, "__module__", None), getattr(value, "__qualname__", None))
        in _APP_TEST_HELPERS
        for value in vars(module).values()
    )


def _is_slow(item: pytest.Item, where: Path) -> bool:
    if where.parts[0] in _SLOW_FOLDERS or where.as_posix() in _SLOW_MODULES:
        return True
    if item.get_closest_marker("postgres") is not None:
        return True
    return _boots_the_app(item)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow tests ``slow`` by where they are and what they use (see ``_is_slow``)."""
    root = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(root) and _is_slow(item, item.path.relative_to(root)):
            item.add_marker(pytest.mark.slow)


class _BackendsFromWorkers:
    """Under pytest-xdist the tests run in workers: each sends its counts back when it ends."""

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        for name, count in getattr(node, "workeroutput", {}).get("cwsync_backends", {}).items():
            _backends_ran[name] = _backends_ran.get(name, 0) + count


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_BackendsFromWorkers(), "cwsync-backends-from-workers")


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker
        workeroutput["cwsync_backends"] = dict(_backends_ran)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which storage backends the run really exercised (CI greps this line)."""
    ran = ", ".join(f"{name} ({count} tests)" for name, count in sorted(_backends_ran.items()))
    terminalreporter.write_line(f"storage backends exercised: {ran or 'none'}")


@pytest.fixture
def demo_simulator(tmp_path: Path) -> Iterator[DemoSimulator]:
    """The demo's embedded simulator on loopback, its state in this test's directory."""
    settings = make_settings(
        "sqlite://", simulator_state_file=tmp_path / "sim.json", simulator_latency_ms=0
    )
    simulator = DemoSimulator(settings).start()
    yield simulator
    simulator.stop()

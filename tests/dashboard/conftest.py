"""Fixtures for AppTest page tests: a store of their own, wired through ``CWSYNC_*`` variables.

The dashboard builds its runtime from the environment inside ``st.cache_resource``; each test
points the environment at a fresh SQLite store (demo off, so no simulator or seeding starts) and
clears that cache, then seeds the store through the service layer with a runtime of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from cryptography.fernet import Fernet
from streamlit.testing.v1 import AppTest

from sync_engine.clockwork.simulator import SimulatorServer, SimulatorState
from sync_engine.runtime import Runtime
from tests.factories import make_runtime, make_sim_state

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def store(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """A runtime over the store the dashboard under test will open."""
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("CWSYNC_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CWSYNC_ENCRYPTION_KEY", key)
    monkeypatch.setenv("CWSYNC_DEMO", "false")
    monkeypatch.setenv("CWSYNC_SCHEDULER", "false")
    st.cache_resource.clear()
    st.cache_data.clear()
    runtime = make_runtime(sqlite_url, encryption_key=key)
    yield runtime
    runtime.close()
    st.cache_resource.clear()
    st.cache_data.clear()


def open_page(page: str | None = None, **session_state: object) -> AppTest:
    """Run the app (optionally switched to ``app_pages/<page>.py``) and return the finished AppTest."""
    app = AppTest.from_file(APP, default_timeout=30)
    for name, value in session_state.items():
        app.session_state[name] = value
    app.run()
    if page is not None:
        app.switch_page(f"app_pages/{page}.py")
        app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.fixture(scope="session")
def _live_simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorState()) as server:
        yield server


@pytest.fixture
def simulator(_live_simulator: SimulatorServer) -> SimulatorServer:
    """The simulator on a loopback socket, serving a fresh firm ``SIM_FIRM`` for this test."""
    _live_simulator.use_state(make_sim_state())
    _live_simulator.set_faults(None)
    return _live_simulator


def by_label(elements: Any, label: str) -> Any:
    """The one element of an AppTest element list with this label."""
    found = [element for element in elements if element.label == label]
    assert len(found) == 1, f"{len(found)} elements labelled {label!r}"
    return found[0]


def texts(app: AppTest) -> str:
    """Every markdown, caption, text, info, success, warning and error on the page, joined."""
    parts: list[str] = []
    for group in (
        app.markdown,
        app.caption,
        app.text,
        app.info,
        app.success,
        app.warning,
        app.error,
    ):
        parts.extend(str(element.value) for element in group)
    return "\n".join(parts)

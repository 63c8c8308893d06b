"""Fixtures for AppTest page tests: a store of their own, wired through ``CWSYNC_*`` variables.

The dashboard builds its runtime from the environment inside ``st.cache_resource``; each test
points the environment at a fresh SQLite store (demo off, so no simulator or seeding starts) and
clears that cache, then seeds the store through the service layer with a runtime of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from cryptography.fernet import Fernet
from streamlit.testing.v1 import AppTest

from sync_engine.runtime import Runtime
from tests.factories import make_runtime

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
    runtime = make_runtime(sqlite_url, encryption_key=key)
    yield runtime
    runtime.close()
    st.cache_resource.clear()


def open_page(page: str | None = None, **session_state: object) -> AppTest:
    """Run the app (optionally switched to ``pages/<page>.py``) and return the finished AppTest."""
    app = AppTest.from_file(APP, default_timeout=30)
    for name, value in session_state.items():
        app.session_state[name] = value
    app.run()
    if page is not None:
        app.switch_page(f"pages/{page}.py")
        app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app

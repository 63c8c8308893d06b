"""Fixtures for AppTest page tests: a store of their own, wired through ``CWSYNC_*`` variables.

The dashboard builds its runtime from the environment inside ``st.cache_resource``; each test
points the environment at a fresh SQLite store (demo off, so no simulator or seeding starts) and
clears that cache, then seeds the store through the service layer with a runtime of its own.

Outside demo mode the dashboard needs a login: :func:`open_page` gives the app two password users
through ``at.secrets`` (``ADMIN`` and ``VIEWER``) and opens it signed in as one of them, the way
the login form leaves a session (the form itself is tested in ``test_login.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from cryptography.fernet import Fernet
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from clockwork_simulator import SimulatorServer, SimulatorState
from dashboard import identity
from sync_engine.runtime import Runtime
from sync_engine.services import auth
from tests.factories import make_account, make_runtime, make_sim_state

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
ADMIN = "casey@cs"
VIEWER = "victor@cs"
PASSWORD = "a long test password"
ROLES = {ADMIN: auth.Role.ADMIN, VIEWER: auth.Role.VIEWER}
OIDC_ADMIN = "alice@example.com"
OIDC = {  # single sign-on secrets: an identity provider, and who is admin or viewer
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "not-a-real-secret",
        "client_id": "client",
        "client_secret": "client-secret",
        "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
    },
    "access": {"admins": [OIDC_ADMIN], "viewers": ["@example.com"]},
}


@cache
def password_hash() -> str:
    """One scrypt hash of ``PASSWORD`` for the whole run (each costs ~0.1 s)."""
    return auth.hash_password(PASSWORD)


def login_secrets() -> dict[str, Any]:
    """``.streamlit/secrets.toml`` as the tests give it: an admin and a viewer with passwords."""
    return {
        "users": {
            name: {"password_hash": password_hash(), "role": role.value}
            for name, role in ROLES.items()
        }
    }


def signed_in(name: str) -> identity.SignedIn:
    """The session value the login form stores for one of the test users."""
    return identity.SignedIn(name, ROLES[name], "password", password_hash())


@pytest.fixture(autouse=True)
def _served_on_loopback() -> Iterator[None]:
    """The dashboard under test listens on loopback, as ``cwsync dashboard`` starts it (demo mode
    refuses any other ``server.address``)."""
    st_config.set_option("server.address", "127.0.0.1")
    yield
    st_config.set_option("server.address", None)


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


@pytest.fixture
def account_id(store: Runtime) -> int:
    """An account with no connection yet, in the store the dashboard under test opens."""
    return make_account(store)


@pytest.fixture
def demo_env(store: Runtime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Demo mode on for the dashboard under test; returns where its simulator would save."""
    state_file = tmp_path / "sim.json"
    monkeypatch.setenv("CWSYNC_DEMO", "true")
    monkeypatch.setenv("CWSYNC_SIMULATOR_STATE_FILE", str(state_file))
    monkeypatch.setenv("CWSYNC_SIMULATOR_LATENCY_MS", "0")
    return state_file


def new_app(*, user: str | None = ADMIN, secrets: dict[str, Any] | None = None) -> AppTest:
    """An AppTest of the dashboard with the test users configured, signed in as ``user``."""
    app = AppTest.from_file(APP, default_timeout=30)
    app.secrets.update(login_secrets() if secrets is None else secrets)
    if user is not None:
        app.session_state[identity.USER_KEY] = signed_in(user)
    return app


def oidc_app(user: dict[str, Any]) -> AppTest:
    """An AppTest of the dashboard with single sign-on (:data:`OIDC`), ``user`` being what the
    provider says of the visitor (``st.user``)."""
    app = AppTest.from_file(APP, default_timeout=30)
    app.secrets.update(OIDC)
    app.user = user
    return app


def _action_script(module, handler, arguments):  # type: ignore[no-untyped-def]  # runs as a script
    import importlib

    import streamlit as st

    if not st.session_state.get("_called"):  # an action may rerun the script
        st.session_state["_called"] = True
        getattr(importlib.import_module(module), handler)(**arguments)


def call_action(
    module: str, handler: str, arguments: dict[str, Any], *, user: str = ADMIN
) -> AppTest:
    """Call ``module``'s action ``handler`` once, inside a Streamlit run signed in as ``user``
    (the way a button's callback would), and return the finished AppTest."""
    app = AppTest.from_function(
        _action_script, args=(module, handler, arguments), default_timeout=30
    )
    app.secrets.update(login_secrets())
    app.session_state[identity.USER_KEY] = signed_in(user)
    app.run()
    return app


def open_page(
    page: str | None = None, *, user: str | None = ADMIN, **session_state: object
) -> AppTest:
    """Run the app signed in as ``user`` (optionally switched to ``app_pages/<page>.py``) and
    return the finished AppTest."""
    app = new_app(user=user)
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


def sent_to_browser(app: AppTest) -> bytes:
    """Every element and block of the last run as serialized for the browser, concatenated."""
    return b"\n".join(
        node.proto.SerializeToString()
        for node in app._tree
        if getattr(node, "proto", None) is not None
    )

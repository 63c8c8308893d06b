"""What every page shares: the process's runtime (one per Streamlit server), the selected account,
the acting user, and small rendering helpers.

Long-lived resources are held in ``st.cache_resource`` so reruns and sessions share one store and
one scheduler. Pages read the store through :mod:`sync_engine.services` only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import streamlit as st
from sqlmodel import Session

from sync_engine.runtime import Runtime, build_runtime
from sync_engine.services import accounts
from sync_engine.services.errors import ServiceError

ACCOUNT_KEY = "account_id"


@st.cache_resource(show_spinner="Opening the store…")
def runtime() -> Runtime:
    """The process's runtime, built from ``CWSYNC_*`` settings (store migrated on first use)."""
    return build_runtime()


@contextmanager
def reading() -> Iterator[Session]:
    """A read session on the store."""
    with runtime().db.read() as session:
        yield session


@contextmanager
def writing() -> Iterator[Session]:
    """A short write transaction on the store."""
    with runtime().db.write() as session:
        yield session


def actor() -> str:
    """Who is acting, for the audit log: the signed-in user, else the name given in the sidebar."""
    name = st.session_state.get("actor", "").strip()
    return name or ("demo user" if runtime().settings.demo else "dashboard")


def select_account(label: str = "Account") -> int | None:
    """The account the page is about, chosen in the sidebar and kept across pages."""
    with reading() as session:
        choices = {a.id: a.name for a in accounts.list_accounts(session=session)}
    if not choices:
        st.info("No accounts yet. Create one on the **Integrations** page.")
        return None
    ids = list(choices)
    current = st.session_state.get(ACCOUNT_KEY)
    index = ids.index(current) if current in ids else 0
    chosen = st.sidebar.selectbox(
        label, ids, index=index, format_func=lambda i: choices[i], key="_account_select"
    )
    st.session_state[ACCOUNT_KEY] = chosen
    return chosen


def show_error(exc: ServiceError) -> None:
    """Show a service error's one-line message (never HTML)."""
    st.error(str(exc), icon=":material/error:")


def ago(moment: datetime | None, *, now: datetime | None = None) -> str:
    """'12 s ago', '5 min ago', '3 h ago', a date beyond a day; '—' for never."""
    if moment is None:
        return "—"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 0:
        return "just now"
    if seconds < 90:
        return f"{int(seconds)} s ago"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)} min ago"
    if seconds < 36 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return moment.strftime("%Y-%m-%d %H:%M UTC")

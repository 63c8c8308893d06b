"""Start-up, before any page: open the store, refuse what must not run, start the demo (if on)
and then the scheduler; idempotent per process. Stored credentials the key cannot decrypt mark
their connections *needs attention*, and every page says so."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from dashboard import demo_mode, process, scheduler
from sync_engine import connections
from sync_engine.crypto import SecretKeyError
from sync_engine.services.errors import StoreUnavailableError, store_errors


def boot() -> None:
    """Open the store, start the demo (if on) and then the scheduler; idempotent per process.

    Demo mode stops here, before anything starts, when the dashboard is served on an address
    other than loopback, or when the store is not a demo store (an empty one becomes one).
    """
    if process.DashboardSettings().demo:
        _refuse_if(demo_mode.off_loopback_refusal())
    try:
        with store_errors(process.DashboardSettings().database_url):
            rt = process.runtime()
    except SecretKeyError as exc:
        _refuse(str(exc), icon=":material/key_off:")
    except StoreUnavailableError as exc:  # unreachable, read-only, not a folder: said, then retried
        _refuse(f"{exc}. Fix the store and reload the page.")
    except OSError as exc:  # its folder or key file cannot be made or read
        where = f": {exc.filename}" if exc.filename else ""
        _refuse(f"The store cannot be opened: {exc.strerror or exc}{where}. Fix it and reload.")
    if process.settings().demo:
        _refuse_if(demo_mode.store_refusal())
    if rt.key_problem is not None:
        flag_undecryptable_connections()
    demo_mode.demo()
    scheduler.engine()


def _refuse_if(problem: str | None) -> None:
    if problem:
        _refuse(problem)


def _refuse(message: str, *, icon: str = ":material/gpp_bad:") -> NoReturn:
    st.title("Clockwork Sync")
    st.error(message, icon=icon)
    st.stop()


@st.cache_resource(show_spinner=False)
def flag_undecryptable_connections() -> int:
    """Mark the connections whose credentials the key cannot decrypt *needs attention* (once
    per process): their work pauses until staff re-enter the credentials. How many were live."""
    rt = process.runtime()
    problem = rt.key_problem
    if problem is None:
        return 0
    error = f"Re-enter the credentials: {rt.box.cannot_decrypt()}"
    with rt.db.write() as session:
        for account_id in problem.account_ids:
            connections.mark_needs_attention(session=session, account_id=account_id, error=error)
    return len(problem.account_ids)


def key_warning() -> None:
    """Say, on every page, that some stored credentials need to be entered again."""
    problem = process.runtime().key_problem
    if problem is not None:
        st.warning(
            f"{len(problem.account_ids)} connection(s) need attention — re-enter the "
            f"credentials on the Integrations page. {problem.message[:1].upper()}"
            f"{problem.message[1:]}.",
            icon=":material/key_off:",
        )

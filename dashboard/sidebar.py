"""The sidebar: who is signed in (or the demo's "Acting as" box) first, the account the pages are
about in between, and last whether the scheduler runs, whether this is a demo, and the timezone.

The chosen account is kept across pages: the selector keeps its value for the session (by
default Streamlit resets a widget on a page switch), and session state of its own holds the
account a page chose; pages change it only through :func:`choose_account` and
:func:`forget_account`.
"""

from __future__ import annotations

from typing import cast

import streamlit as st

from dashboard import identity, process, scheduler, store, times
from dashboard.plain_text import plain
from sync_engine.services import accounts

_ACCOUNT_KEY = "account_id"
_ACCOUNT_SELECT = "_account_select"


def identity_part() -> None:
    """The sidebar's first part: who is signed in, or in demo mode the "Acting as" box. Drawn
    before the page runs, so that no page's own sidebar widgets (the account selector) ever take
    its place in the browser."""
    user = identity.current_user()
    if user is not None and user.method == "demo":
        identity.acting_as()
    elif user is not None:
        st.sidebar.caption(f"Signed in as {plain(user.name)} · {user.role.value}")
        st.sidebar.button("Log out", icon=":material/logout:", on_click=identity.sign_out)


def status_part() -> None:
    """The sidebar's last part: whether the engine runs, whether this is a demo, and the timezone
    the pages' times are in."""
    status = scheduler.engine()
    if status.running:
        st.sidebar.caption(
            f":green[●] Sync scheduler running (every {process.settings().sync_interval_seconds:g} s)"
        )
    else:
        st.sidebar.caption(f":orange[●] {status.message or 'Sync scheduler stopped.'}")
    if process.settings().demo:
        st.sidebar.caption(":violet[●] Demo mode: an embedded Clockwork simulator")
    st.sidebar.caption(times.zone_note())


def choose_account(account_id: int) -> None:
    """Make ``account_id`` the selected account from the next time the selector is drawn (the
    selector's own value is dropped: Streamlit refuses a change to a drawn widget's)."""
    st.session_state[_ACCOUNT_KEY] = account_id
    st.session_state.pop(_ACCOUNT_SELECT, None)


def forget_account() -> None:
    """Forget the selected account (the first one is selected next, e.g. after a demo reset)."""
    st.session_state.pop(_ACCOUNT_KEY, None)
    st.session_state.pop(_ACCOUNT_SELECT, None)


def select_account(label: str = "Account") -> int | None:
    """The account the page is about, chosen in the sidebar and kept across pages."""
    with store.reading() as session:
        choices = {a.id: a.name for a in accounts.list_accounts(session=session)}
    if not choices:
        st.info("No accounts yet. Create one on the **Integrations** page.")
        return None
    ids = list(choices)
    current = st.session_state.get(_ACCOUNT_KEY)
    if st.session_state.get(_ACCOUNT_SELECT) not in ids:
        st.session_state[_ACCOUNT_SELECT] = current if current in ids else ids[0]
    chosen = st.sidebar.selectbox(
        label,
        ids,
        format_func=lambda i: choices.get(i, str(i)),
        key=_ACCOUNT_SELECT,
        persist_state="session",  # by default a page switch puts it back on the first account
    )
    st.session_state[_ACCOUNT_KEY] = chosen
    return cast(int, chosen)

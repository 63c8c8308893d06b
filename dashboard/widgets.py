"""Widgets shared by several pages: the firm's project picker, the change preview, counts,
errors, a new secret shown once, the message that survives a rerun, and a table's selected rows.

Text that comes from Clockwork, a CSV or a user reaches Markdown elements only through
:func:`dashboard.plain_text.plain`, so a name or a message cannot make a link, an image or markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from dashboard import process, store
from dashboard.plain_text import plain
from sync_engine.domain import ConnectionState
from sync_engine.services import accounts
from sync_engine.services.errors import ServiceError
from sync_engine.services.projects import firm_projects
from sync_engine.services.queries import previews

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig


def projects(account_id: int) -> tuple[dict[str, str], str | None]:
    """The firm's projects (id → name), or an empty map and the reason they cannot be listed.

    Cached for two minutes per connection (a reconnect to another firm lists afresh).
    """
    with store.reading() as session:
        summary = accounts.connection_summary(session=session, account_id=account_id)
    if summary is None or summary.state == ConnectionState.DISCONNECTED:
        return {}, "connect Clockwork first to choose from its projects"
    return _projects(account_id, (summary.firm, summary.base_url, summary.connected_at))


@st.cache_data(ttl=120, show_spinner="Loading the firm's Clockwork projects…")
def _projects(account_id: int, connection: tuple[object, ...]) -> tuple[dict[str, str], str | None]:
    try:
        found = firm_projects(process.runtime(), account_id=account_id)
    except ServiceError as exc:
        return {}, str(exc)
    return {p.project_id: p.name for p in found}, None


def project_picker(
    account_id: int,
    label: str,
    current: str | None,
    *,
    key: str,
    help: str,
    blank: str = "No project (blank)",
) -> str | None:
    """The firm's projects to choose from, with a blank choice; an unknown current id stays
    selectable, and when Clockwork cannot list them the reason is said above."""
    choices, problem = projects(account_id)
    if problem:
        st.caption(f"Projects cannot be listed right now: {plain(problem)}")
    options: list[str] = ["", *choices]
    if current and current not in choices:
        options.append(current)
    names = {"": blank, **choices}
    value = st.selectbox(
        label,
        options,
        index=options.index(current or ""),
        format_func=lambda option: names.get(option, "A project Clockwork does not list now"),
        key=key,
        help=help,
    )
    return value or None


def show_preview(preview: previews.ChangePreview) -> None:
    """What a change will and will not affect (B12), before the save button."""
    with st.container(border=True):
        st.markdown("**Before you save**")
        for line in preview.will:  # lines quote sequence and project names
            st.markdown(f":material/arrow_forward: {plain(line)}")
        for line in preview.will_not:
            st.markdown(f":material/block: {plain(line)}")


def count(number: int) -> str:
    """A count as people read it, thousands separated: "850,401"."""
    return f"{number:,}"


def count_column(*, help: str | None = None) -> ColumnConfig:
    """A table column of counts, thousands separated in the viewer's locale ("850,401")."""
    return st.column_config.NumberColumn(help=help, format="localized")


def show_error(exc: Exception) -> None:
    """An error's one-line message, as plain text (it may quote Clockwork, a CSV or a user)."""
    st.error(plain(exc), icon=":material/error:")


def hold_secret(key: str, secret: str) -> None:
    """Keep a new secret for :func:`show_secret_once` under ``key`` (the next run shows it)."""
    st.session_state[key] = secret


def show_secret_once(key: str, *, what: str, use: str) -> None:
    """The secret held under ``key``, if any, with a warning that this is the only time it is
    shown and what it is for; it is forgotten as it is drawn."""
    secret = st.session_state.pop(key, None)
    if secret:
        st.warning(f"Copy this {what} now: it is shown only once. {use}", icon=":material/key:")
        st.code(secret, language=None)


def flash(message: str) -> None:
    """Show ``message`` as a toast on the next run (survives ``st.rerun``)."""
    st.session_state["_flash"] = message


def show_flash() -> None:
    """Show and clear a message left by :func:`flash`."""
    message = st.session_state.pop("_flash", None)
    if message:
        st.toast(message, icon=":material/check_circle:")


def selected_rows(key: str) -> list[int]:
    """Row positions selected in the dataframe widget ``key`` (as of the last interaction)."""
    state = st.session_state.get(key)
    if not state:
        return []
    try:
        return [int(row) for row in state["selection"]["rows"]]
    except (KeyError, TypeError):
        return []

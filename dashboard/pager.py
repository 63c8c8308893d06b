"""The pager of the long tables (Contacts, Activity, Audit log): First, Previous, "Page N of M",
Next, Last, and "Showing 51 to 100 of 850,411", every number thousands separated.

The page number lives in ``st.session_state[key]`` (1-based). The buttons change it in their
callbacks, before the next run reads it, so a table drawn above the controls already shows the
page they lead to. :func:`page_range` reads the page (clamped: a filter may have shrunk the
result) and :func:`controls` draws the buttons; :func:`pager` does both in one place.
"""

from __future__ import annotations

import streamlit as st

from dashboard.widgets import count

PAGE_SIZE = 50


def page_count(total: int, page_size: int = PAGE_SIZE) -> int:
    """How many pages ``total`` rows fill (at least one, empty or not)."""
    return max(1, -(-total // page_size))


def current_page(total: int, *, key: str, page_size: int = PAGE_SIZE) -> int:
    """The page shown, between 1 and the last page (the state is corrected if it was outside)."""
    pages = page_count(total, page_size)
    try:
        page = int(st.session_state.get(key, 1))
    except (TypeError, ValueError):
        page = 1
    page = min(max(page, 1), pages)
    st.session_state[key] = page
    return page


def page_range(total: int, *, key: str, page_size: int = PAGE_SIZE) -> tuple[int, int]:
    """(limit, offset) of the page shown, for the query."""
    return page_size, (current_page(total, key=key, page_size=page_size) - 1) * page_size


def showing(total: int, page: int, page_size: int = PAGE_SIZE) -> str:
    """ "Showing 51 to 100 of 850,411", or "Nothing matches." """
    if not total:
        return "Nothing matches."
    first = (page - 1) * page_size
    return (
        f"Showing {count(min(total, first + 1))} to {count(min(total, first + page_size))} "
        f"of {count(total)}"
    )


def _go(key: str, page: int) -> None:
    st.session_state[key] = page


def controls(total: int, *, key: str, page_size: int = PAGE_SIZE) -> None:
    """ "Showing …" on the left; First, Previous, "Page N of M", Next, Last on the right."""
    pages = page_count(total, page_size)
    page = current_page(total, key=key, page_size=page_size)
    row = st.container(horizontal=True, vertical_alignment="center", key=f"{key}_pager")
    row.caption(showing(total, page, page_size))
    buttons = row.container(
        horizontal=True, horizontal_alignment="right", vertical_alignment="center", gap="small"
    )
    at_start, at_end = page <= 1, page >= pages
    steps = (
        ("First", 1, at_start, ":material/first_page:"),
        ("Previous", page - 1, at_start, ":material/chevron_left:"),
    )
    for label, target, disabled, icon in steps:
        buttons.button(
            label, key=f"{key}_{label.lower()}", disabled=disabled, icon=icon,
            on_click=_go, args=(key, target), type="tertiary",
        )  # fmt: skip
    buttons.markdown(f"Page **{count(page)}** of **{count(pages)}**", width="content")
    for label, target, disabled, icon in (
        ("Next", page + 1, at_end, ":material/chevron_right:"),
        ("Last", pages, at_end, ":material/last_page:"),
    ):
        buttons.button(
            label, key=f"{key}_{label.lower()}", disabled=disabled, icon=icon,
            icon_position="right", on_click=_go, args=(key, target), type="tertiary",
        )  # fmt: skip


def pager(total: int, *, key: str, page_size: int = PAGE_SIZE) -> tuple[int, int]:
    """The controls here, and (limit, offset) of the page they show."""
    limit, offset = page_range(total, key=key, page_size=page_size)
    controls(total, key=key, page_size=page_size)
    return limit, offset

"""Table pieces shared by the pages: a frame with fixed columns, the coloured status pill, the Exists in Clockwork flag, and
a height that shows a page of rows whole (the page scrolls, not a box inside it).

A pill is a one-item list in a ``MultiselectColumn`` whose options carry the colours: Streamlit
draws it as a coloured label in a read-only table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from dashboard.theme import CONNECTION_COLOURS, FLAG_COLOUR, STATUS_COLOURS
from sync_engine.services.queries import reason_texts

if TYPE_CHECKING:
    from streamlit.elements.lib.column_types import ColumnConfig, ColumnWidth

ROW_HEIGHT = 35  # px, Streamlit's default row (and header) height
FLAG = "Exists in Clockwork"


def frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A DataFrame with fixed columns, even when there are no rows."""
    return pd.DataFrame(rows, columns=columns)


def table_height(rows: int, *, at_most: int | None = None, row: int | None = None) -> int:
    """Pixels that show ``rows`` rows of ``row`` pixels (Streamlit's default when None) and the
    header without an inner scrollbar (capped at ``at_most`` rows when given)."""
    shown = max(rows, 1) if at_most is None else min(max(rows, 1), at_most)
    return (row or ROW_HEIGHT) * shown + ROW_HEIGHT + 3


WRAPPED_ROW_HEIGHT = 66  # px: Streamlit wraps a cell's text only in rows taller than 64 px
CHAR_WIDTH = 7.2  # px, an average character of the table's 14 px font


def row_height(rows: Iterable[Mapping[str, object]], widths: Mapping[str, int]) -> int | None:
    """The row height that shows the cells of the columns in ``widths`` (name → pixels) whole:
    wrapped rows when one of them is longer than a line, else Streamlit's default (None)."""
    for row in rows:
        for column, width in widths.items():
            if len(str(row.get(column) or "")) * CHAR_WIDTH > width - 17:  # less the padding
                return WRAPPED_ROW_HEIGHT
    return None


def status_pill(status: str) -> list[str]:
    """A status as the pill column's value: its label ("Failed"), in a one-item list."""
    return [reason_texts.STATUS_LABELS.get(status, status)]


def status_column(*, width: ColumnWidth | None = 120, help: str | None = None) -> ColumnConfig:
    """Statuses as pills coloured by meaning: Synced green, Failed red, Retrying and Needs review
    amber, Awaiting reply blue, Queued and Syncing violet, Skipped grey."""
    labels = [reason_texts.STATUS_LABELS.get(status, status) for status in STATUS_COLOURS]
    return st.column_config.MultiselectColumn(
        width=width,
        help=help,
        options=labels,
        color=list(STATUS_COLOURS.values()),
        disabled=True,
    )


def flag(exists: bool) -> list[str]:
    """The Exists in Clockwork flag as the flag column's value: a pill when set, else nothing."""
    return [FLAG] if exists else []


def flag_column(*, width: ColumnWidth | None = 150, help: str | None = None) -> ColumnConfig:
    """The Exists in Clockwork flag as an amber badge (the help article lists it with the
    errors), empty when not set."""
    return st.column_config.MultiselectColumn(
        width=width, help=help, options=[FLAG], color=[FLAG_COLOUR], disabled=True
    )


def connection_label(state: str) -> str:
    """A connection state in words: "needs_attention" → "Needs attention"."""
    return state.replace("_", " ").capitalize()


def connection_column(*, width: ColumnWidth | None = 140) -> ColumnConfig:
    """Connection states as pills: Connected green, Needs attention red, the others grey."""
    return st.column_config.MultiselectColumn(
        width=width,
        options=[connection_label(state) for state in CONNECTION_COLOURS],
        color=list(CONNECTION_COLOURS.values()),
        disabled=True,
    )

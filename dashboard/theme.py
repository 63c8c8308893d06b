"""The dashboard's page chrome: the width used, the band above the title, the pills' colours.

Streamlit leaves a 6 rem band above every title (room for its header bar, which this app leaves
empty) and 5 rem either side of the page; at 1440 px with the sidebar open that is a fifth of
the width. :func:`apply` takes both down to what a product page uses. The header bar stays (it
holds the button that opens a closed sidebar) but is transparent and lets clicks through.
"""

from __future__ import annotations

import streamlit as st

# Colours of the status pills (tables and the detail view): green done, red failed, amber
# retrying or to look at, blue waiting, grey nothing to do.
STATUS_COLOURS: dict[str, str] = {
    "synced": "#d3f3e1",
    "failed": "#fbd5d5",
    "retrying": "#fde7c2",
    "needs_review": "#fde7c2",
    "awaiting_reply": "#d9e6fd",
    "queued": "#e4e1fb",
    "syncing": "#e4e1fb",
    "skipped": "#e6e8ec",
}
# st.badge's palette for the same statuses (the detail view's header).
STATUS_BADGES: dict[str, str] = {
    "synced": "green",
    "failed": "red",
    "retrying": "orange",
    "needs_review": "orange",
    "awaiting_reply": "blue",
    "queued": "violet",
    "syncing": "violet",
    "skipped": "gray",
}
# The accounts table's Connection pill.
CONNECTION_COLOURS: dict[str, str] = {
    "connected": "#d3f3e1",
    "needs_attention": "#fbd5d5",
    "disconnected": "#e6e8ec",
    "never_connected": "#e6e8ec",
}
FLAG_COLOUR = "#ffd8a8"  # Exists in Clockwork: the help article lists it with the errors

CSS = """
<style>
[data-testid="stMainBlockContainer"] {
    padding: 1.25rem 2rem 3rem 2rem;
    max-width: none;
}
[data-testid="stHeader"] {
    background: transparent;
    height: 2.5rem;
    pointer-events: none;
}
[data-testid="stHeader"] * { pointer-events: auto; }
[data-testid="stMainBlockContainer"] h1 {
    font-size: 2rem;
    padding: 0.25rem 0 0 0;
}
[data-testid="stMainBlockContainer"] h3 { padding-top: 0.5rem; }
</style>
"""


def apply() -> None:
    """Inject the page chrome (once per run, before the page draws)."""
    st.html(CSS)


NARROW_CSS = """
<style>
[data-testid="stMainBlockContainer"] { max-width: 62rem; align-self: flex-start; }
</style>
"""


def narrow() -> None:
    """A form page (settings, credentials, demo controls) at a reading width, 62 rem (992 px),
    not stretched over the whole window: a firm name or a slider 1,100 px wide reads badly. It
    stays on the left, where every page's title starts (a centred column made the title jump
    when switching pages). The style lives as long as the page's run draws it."""
    st.html(NARROW_CSS)

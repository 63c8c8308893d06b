"""Entry point of the dashboard (``streamlit run dashboard/app.py``): page setup and routing only."""

from __future__ import annotations

import streamlit as st

from dashboard import context

st.set_page_config(page_title="Clockwork Sync", page_icon=":material/sync:", layout="wide")
context.runtime()

pages = {
    "Health": [
        st.Page(
            "pages/overview.py", title="Overview", icon=":material/monitor_heart:", default=True
        ),
    ],
}
st.navigation(pages).run()

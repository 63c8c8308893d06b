"""Entry point of the dashboard (``streamlit run dashboard/app.py``): set-up and routing only."""

from __future__ import annotations

import streamlit as st

from dashboard import context

st.set_page_config(page_title="Clockwork Sync", page_icon=":material/sync:", layout="wide")
context.boot()

pages = {
    "Health": [
        st.Page(
            "pages/overview.py", title="Overview", icon=":material/monitor_heart:", default=True
        ),
        st.Page("pages/contacts.py", title="Contacts", icon=":material/group:"),
        st.Page("pages/activity.py", title="Activity", icon=":material/mail:"),
        st.Page("pages/sync_log.py", title="Sync log", icon=":material/receipt_long:"),
    ],
    "Configure": [
        st.Page("pages/integrations.py", title="Integrations", icon=":material/link:"),
        st.Page("pages/sync_settings.py", title="Sync settings", icon=":material/tune:"),
        st.Page("pages/sequences.py", title="Sequences", icon=":material/format_list_numbered:"),
        st.Page("pages/audit_log.py", title="Audit log", icon=":material/history:"),
    ],
}
if context.settings().demo:
    pages["Demo"] = [
        st.Page("pages/demo_controls.py", title="Demo controls", icon=":material/science:"),
    ]
st.navigation(pages).run()
context.sidebar()

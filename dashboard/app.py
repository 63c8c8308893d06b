"""Entry point of the dashboard (``streamlit run dashboard/app.py``): set-up, sign-in, routing."""

from __future__ import annotations

import streamlit as st

from dashboard import boot, login, process, sidebar, theme, widgets
from dashboard.favicon import FAVICON

# 260 px of sidebar (Streamlit's default is 300) leaves the tables 40 px more at 1440 px.
st.set_page_config(
    page_title="Clockwork Sync", page_icon=FAVICON, layout="wide", initial_sidebar_state=260
)
theme.apply()
boot.boot()
user = login.require_login()
boot.key_warning()

health = [
    st.Page(
        "app_pages/overview.py", title="Overview", icon=":material/monitor_heart:", default=True
    ),
    st.Page("app_pages/contacts.py", title="Contacts", icon=":material/group:"),
    st.Page("app_pages/activity.py", title="Activity", icon=":material/mail:"),
    st.Page("app_pages/sync_log.py", title="Sync log", icon=":material/receipt_long:"),
    st.Page("app_pages/alerts.py", title="Alerts", icon=":material/notifications:"),
    st.Page("app_pages/verify.py", title="Verify", icon=":material/fact_check:"),
]
audit_log = st.Page("app_pages/audit_log.py", title="Audit log", icon=":material/history:")
if user.is_admin:
    pages = {
        "Health": health,
        "Configure": [
            st.Page("app_pages/integrations.py", title="Integrations", icon=":material/link:"),
            st.Page("app_pages/sync_settings.py", title="Sync settings", icon=":material/tune:"),
            st.Page(
                "app_pages/sequences.py", title="Sequences", icon=":material/format_list_numbered:"
            ),
            audit_log,
        ],
    }
    if process.settings().demo:
        pages["Demo"] = [
            st.Page("app_pages/demo_controls.py", title="Demo controls", icon=":material/science:"),
        ]
else:  # a viewer audits: no configuration pages at all
    pages = {"Health": [*health, audit_log]}
page = st.navigation(pages)
login.open_remembered_page([p for section in pages.values() for p in section], page)
sidebar.identity_part()  # before the page: see its docstring
widgets.show_flash()
page.run()
sidebar.status_part()

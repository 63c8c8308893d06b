"""Audit log: every settings and credential change, who made it, when, old → new (secrets masked)."""

from __future__ import annotations

import streamlit as st

from dashboard import context
from sync_engine.services import audit, views

ALL = 0
COLUMNS = ["When", "Who", "Account", "Changed", "Field", "Old", "New"]


def render() -> None:
    """Draw the Audit log page."""
    st.title("Audit log")
    st.caption("Every change to settings, sequences, credentials and enrollments, newest first.")
    with context.reading() as session:
        names = views.account_names(session=session)
    scope = st.selectbox(
        "Account",
        [ALL, *sorted(names, key=lambda i: names[i].lower())],
        format_func=lambda i: "All accounts" if i == ALL else names[i],
        key="audit_scope",
    )
    account_id = None if scope == ALL else scope
    with context.reading() as session:
        total = views.count_audit_entries(session=session, account_id=account_id)
    limit, offset = context.pager(total, key="audit_page")
    with context.reading() as session:
        entries = audit.list_entries(
            session=session, account_id=account_id, limit=limit, offset=offset
        )
    st.dataframe(
        context.frame(
            [
                {
                    "When": context.local_time(entry.at),
                    "Who": entry.actor,
                    "Account": names.get(entry.account_id or 0, ""),
                    "Changed": f"{entry.entity} {entry.entity_id or ''}".strip(),
                    "Field": entry.field,
                    "Old": entry.old_value or "",
                    "New": entry.new_value or "",
                }
                for entry in entries
            ],
            COLUMNS,
        ),
        hide_index=True,
    )


render()

"""Audit log: every settings and credential change, who made it, when, old → new (secrets masked)."""

from __future__ import annotations

import streamlit as st

from dashboard import pager, store, tables, times
from dashboard.widgets import projects as project_map
from sync_engine import audit
from sync_engine.services.queries import logs

ALL = 0
COLUMNS = ["When", "Who", "Account", "Changed", "Field", "Old", "New"]  # values in words
# Pixels per column: 1,090 in all, what the main area has at 1440 px.
WIDTHS = {
    "When": 175, "Who": 110, "Account": 145, "Changed": 230, "Field": 140, "Old": 145, "New": 145
}  # fmt: skip
WRAPPED = ("Changed", "Field", "Old", "New")


def render() -> None:
    """Draw the Audit log page."""
    st.title("Audit log")
    st.caption(
        "Every change to settings, sequences, connections and contacts, newest first. Secrets are "
        "never shown."
    )
    with store.reading() as session:
        names = logs.account_names(session=session)
    scope = st.selectbox(
        "Account",
        [ALL, *sorted(names, key=lambda i: names[i].lower())],
        format_func=lambda i: "All accounts" if i == ALL else names[i],
        key="audit_scope",
    )
    account_id = None if scope == ALL else scope
    with store.reading() as session:
        total = logs.count_audit_entries(session=session, account_id=account_id)
    limit, offset = pager.page_range(total, key="audit_page")
    with store.reading() as session:
        entries = audit.list_entries(
            session=session, account_id=account_id, limit=limit, offset=offset
        )
    # Projects are named by the firm (cached per connection); an account never connected has none.
    firm_projects = {a_id: project_map(a_id)[0] for a_id in logs.audit_projects_needed(entries)}
    with store.reading() as session:
        rows = logs.audit_rows(session=session, entries=entries, project_names=firm_projects)
    shown = [
        {
            "When": times.timestamp(row.at),
            "Who": row.who,
            "Account": row.account,
            "Changed": row.what,
            "Field": row.field,
            "Old": row.old,
            "New": row.new,
        }
        for row in rows
    ]
    # Wrapped rows when what changed, or a value, is longer than its column.
    row_height = tables.row_height(shown, {name: WIDTHS[name] for name in WRAPPED})
    st.dataframe(
        tables.frame(shown, COLUMNS),
        hide_index=True,
        # the whole page of entries: the page scrolls, not a box inside it
        height=tables.table_height(len(rows), row=row_height),
        row_height=row_height,
        column_config={
            name: st.column_config.TextColumn(width=width) for name, width in WIDTHS.items()
        },
    )
    pager.controls(total, key="audit_page")  # under the table: its toolbar covers what is above
    technical_details(rows)


def technical_details(rows: list[logs.AuditRow]) -> None:
    """The entries as stored (entity, id, field name and raw values), for an engineer."""
    with st.expander("Technical details", icon=":material/code:"):
        st.dataframe(
            tables.frame(
                [
                    {
                        "Entry": row.entry.id,
                        "Actor": row.entry.actor,
                        "Entity": row.entry.entity,
                        "Entity id": row.entry.entity_id or "",
                        "Field": row.entry.field,
                        "Old value": row.entry.old_value or "",
                        "New value": row.entry.new_value or "",
                    }
                    for row in rows
                ],
                ["Entry", "Actor", "Entity", "Entity id", "Field", "Old value", "New value"],
            ),
            hide_index=True,
        )


render()

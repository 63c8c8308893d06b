"""Contacts: the per-enrollment audit table, its filters, toolbar actions and CSV export, and the
detail view of the row selected (:mod:`dashboard.app_pages.contact_detail`)."""

from __future__ import annotations

import streamlit as st

from dashboard import (
    export_download,
    identity,
    pager,
    process,
    sidebar,
    store,
    tables,
    times,
    widgets,
)
from dashboard.app_pages.contact_actions import dismiss, retry, retry_all_failed
from dashboard.app_pages.contact_detail import detail
from dashboard.widgets import projects as project_map
from sync_engine.services import accounts, events
from sync_engine.services.errors import ServiceError
from sync_engine.services.queries import contact_table, reason_texts

PAGE_SIZE = 50
FLAG_CHOICES = {"Any": None, "Exists in Clockwork": True, "Not flagged": False}
COLUMNS = [
    "ID", "Email", "Name", "Status", "Exists in Clockwork", "Reason", "Action",
    "Created / linked", "Clockwork person", "Sequence", "Project", "Attempts", "Last attempt",
    "Added",
]  # fmt: skip
# What the table shows at 1440 px without a horizontal scrollbar: what a CS person reads first.
# The other columns stay in the data (and the detail view shows them for the selected row).
SHOWN = ["Status", "Email", "Name", "Exists in Clockwork", "Reason", "Action"]
# Pixels per shown column: 1,088 with the row selector, what the main area has at 1440 px.
WIDTHS = {
    "Status": 100, "Email": 245, "Name": 135, "Exists in Clockwork": 150, "Reason": 235,
    "Action": 190,
}  # fmt: skip
TABLE_ROWS = 17  # rows in view before the table scrolls; the detail view is drawn under it


def filters(account_id: int) -> contact_table.EnrollmentFilter:
    """The filter widgets, as the query's filter."""
    with store.reading() as session:
        choices = contact_table.filter_choices(session=session, account_id=account_id)
    sequences = dict(choices["sequences"])
    search, status, reason, sequence, flag = st.columns([3, 2, 2, 2, 2])
    term = search.text_input(
        "Search",
        placeholder="email or name",
        key="contacts_search",
        max_chars=200,
        help="An email is matched from its start (fast at any size); @domain finds a company; "
        "other text matches anywhere in the email or name.",
    )
    statuses = status.multiselect(
        "Status",
        choices["statuses"],
        format_func=lambda code: reason_texts.STATUS_LABELS.get(code, code),
        key="contacts_status",
    )
    reasons = reason.multiselect(
        "Reason",
        choices["reasons"],
        format_func=lambda code: reason_texts.reason_info(code).message,
        key="contacts_reason",
    )
    sequence_ids = sequence.multiselect(
        "Sequence", list(sequences), format_func=lambda i: sequences[i], key="contacts_sequence"
    )
    flagged = flag.selectbox("Exists in Clockwork", list(FLAG_CHOICES), key="contacts_flag")
    drifted = st.checkbox(
        "Only contacts that drifted from Clockwork",
        key="contacts_drifted",
        help="Contacts the last verification found changed in Clockwork (see the Verify page).",
    )
    return contact_table.EnrollmentFilter(
        account_id=account_id,
        statuses=tuple(statuses),
        reasons=tuple(reasons),
        sequence_ids=tuple(sequence_ids),
        exists_in_clockwork=FLAG_CHOICES[flagged],
        search=term,
        drifted=drifted,
    )


def table_rows(rows: list[contact_table.EnrollmentRow], projects: dict[str, str]) -> list[dict]:
    """Rows of the audit table as plain dicts (project ids shown by name)."""
    return [
        {
            "ID": row.enrollment_id,
            "Email": row.email,
            "Name": row.name,
            "Sequence": row.sequence,
            "Status": tables.status_pill(row.status),
            "Reason": row.reason_message or "",
            "Action": row.action or "",
            "Exists in Clockwork": tables.flag(row.exists_in_clockwork),
            "Created / linked": (row.link or "").capitalize(),
            "Clockwork person": row.person_url,
            "Project": project_name(row.project_id, projects),
            "Attempts": row.attempts,
            "Last attempt": times.timestamp(row.last_attempt_at),
            "Added": times.timestamp(row.added_at),
        }
        for row in rows
    ]


def project_name(project_id: str | None, projects: dict[str, str]) -> str:
    """A project by its name ("" for none); an id the firm does not list is not shown as is."""
    if not project_id:
        return ""
    return projects.get(project_id, "Not listed by Clockwork")


def export_button(
    where: contact_table.EnrollmentFilter, total: int, projects: dict[str, str]
) -> None:
    """The CSV export of the filtered view: a click starts a streamed download (B9), whose
    progress :func:`export_download.show` draws under the toolbar; ``projects`` names each
    project next to its id."""
    st.button(
        f"Export {total:,} as CSV",
        icon=":material/download:",
        disabled=total == 0,
        key="contacts_export",
        help="Downloads every contact of this view, with the filters as set.",
        on_click=export_download.start,  # before the run, which then shows the progress
        kwargs={
            "where": where,
            "total": total,
            "filename": "contacts.csv",
            "project_names": projects,
        },
    )


def enrollment_account(enrollment_id: int) -> int | None:
    """The account an enrollment belongs to (None if there is no such enrollment)."""
    with store.reading() as session:
        try:
            return events.get_enrollment(session=session, enrollment_id=enrollment_id).account_id
        except ServiceError:
            return None


def render() -> None:
    """Draw the Contacts page."""
    st.title("Contacts")
    st.caption(
        "Every contact added to a sequence: whether it synced, why not, and what to do about it."
    )
    linked_id = accounts.record_id(st.query_params.get("enrollment", ""))
    if linked_id is not None and st.session_state.get("_linked_enrollment") != linked_id:
        # A link to one enrollment opens its account once; the sidebar can change it after.
        st.session_state["_linked_enrollment"] = linked_id
        owner = enrollment_account(linked_id)
        if owner is not None:
            sidebar.choose_account(owner)
    account_id = sidebar.select_account()
    if account_id is None:
        return
    where = filters(account_id)
    with store.reading() as session:
        total = contact_table.count_enrollments(session=session, where=where)
        failed = contact_table.count_enrollments(
            session=session,
            where=contact_table.EnrollmentFilter(account_id=account_id, statuses=("failed",)),
        )
    projects, _ = project_map(account_id)

    limit, offset = pager.page_range(total, key="contacts_page", page_size=PAGE_SIZE)
    with store.reading() as session:
        rows = contact_table.list_enrollments(
            session=session, where=where, limit=limit, offset=offset, total=total
        )
    picked = widgets.selected_rows("contacts_table")
    selected = [rows[i].enrollment_id for i in picked if i < len(rows)]

    admin = identity.is_admin()
    toolbar = st.container(horizontal=True)
    with toolbar:
        export_button(where, total, projects)  # viewers may export: the CSV holds no credential
        if admin and st.button(
            f"Retry all failed ({failed:,})", disabled=failed == 0, icon=":material/replay:"
        ):
            retry_all_failed(account_id)
            st.rerun()
        if admin and st.button(
            f"Retry selected ({len(selected)})", disabled=not selected, icon=":material/replay:"
        ):
            retry(selected)
            st.rerun()
        if admin and st.button(
            f"Dismiss selected ({len(selected)})", disabled=not selected, icon=":material/block:"
        ):
            dismiss(selected)
            st.rerun()
        st.button("Refresh", icon=":material/refresh:", help="Show the latest statuses")
    export_download.show()
    shown = table_rows(rows, projects)
    # Wrapped rows when a reason or an action is longer than its column.
    row_height = tables.row_height(shown, {name: WIDTHS[name] for name in ("Reason", "Action")})
    st.dataframe(
        tables.frame(shown, COLUMNS),
        hide_index=True,
        height=tables.table_height(len(rows), at_most=TABLE_ROWS, row=row_height),
        row_height=row_height,
        key="contacts_table",
        on_select="rerun",
        selection_mode="multi-row",
        column_order=SHOWN,
        column_config={
            "ID": st.column_config.NumberColumn(width="small", format="%d"),
            "Exists in Clockwork": tables.flag_column(
                width=WIDTHS["Exists in Clockwork"],
                help="A recruiter had already entered this person in Clockwork",
            ),
            "Clockwork person": st.column_config.LinkColumn(display_text="Open"),
            "Status": tables.status_column(width=WIDTHS["Status"]),
            "Email": st.column_config.TextColumn(width=WIDTHS["Email"]),
            "Name": st.column_config.TextColumn(width=WIDTHS["Name"]),
            "Reason": st.column_config.TextColumn(width=WIDTHS["Reason"]),
            "Action": st.column_config.TextColumn(width=WIDTHS["Action"]),
            "Attempts": st.column_config.NumberColumn(width="small"),
        },
    )
    pager.controls(total, key="contacts_page", page_size=PAGE_SIZE)  # under the table's toolbar
    live_detail = st.fragment(detail, run_every=f"{process.settings().refresh_seconds:g}s")
    if len(selected) == 1:
        live_detail(selected[0], projects)
    elif linked_id is not None and enrollment_account(linked_id) == account_id:
        live_detail(linked_id, projects)
    else:
        st.caption(
            "Select one row to see its timeline; select several to retry or dismiss them."
            if admin
            else "Select one row to see its timeline."
        )


if __name__ == "__main__":  # run as a page; imported, it only defines its actions
    render()

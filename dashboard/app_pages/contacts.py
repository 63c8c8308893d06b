"""Contacts: the per-enrollment audit table, its filters, actions, CSV export and detail view."""

from __future__ import annotations

from collections.abc import Callable

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
from dashboard.plain_text import plain
from dashboard.theme import STATUS_BADGES
from dashboard.widgets import projects as project_map
from dashboard.widgets import show_error
from sync_engine.services import accounts, actions, contact_edits, enrollments
from sync_engine.services.errors import ServiceError
from sync_engine.services.queries import contact_table, csv_export, history, reason_texts

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
# The detail view's timeline, inside its bordered box: 1,050 px at 1440 px.
TIMELINE_WIDTHS = {"When": 190, "Event": 180, "Detail": 680}
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
        format_func=reason_texts.STATUS_LABELS.get,
        key="contacts_status",
    )
    reasons = reason.multiselect(
        "Reason",
        choices["reasons"],
        format_func=lambda code: reason_texts.reason_info(code).message,
        key="contacts_reason",
    )
    sequence_ids = sequence.multiselect(
        "Sequence", list(sequences), format_func=sequences.get, key="contacts_sequence"
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
        disabled=total == 0 or export_download.busy(),
        key="contacts_export",
        help="Downloads every contact of this view, with the filters as set.",
        on_click=export_download.start,  # before the run: the button shows busy at once
        kwargs={
            "where": where,
            "total": total,
            "filename": "contacts.csv",
            "project_names": projects,
        },
    )


def retry(enrollment_ids: list[int]) -> None:
    """Queue these enrollments for another attempt (admins only)."""
    actor = identity.require_admin("retry contacts")
    with store.writing() as session:
        done = actions.retry_enrollments(
            session=session, enrollment_ids=enrollment_ids, clock=process.runtime().clock,
            actor=actor,
        )  # fmt: skip
    widgets.flash(f"{done} contact{'s' if done != 1 else ''} queued for retry.")


def retry_all_failed(account_id: int) -> None:
    """Queue every failed enrollment of the account for another attempt (admins only)."""
    actor = identity.require_admin("retry contacts")
    with store.writing() as session:
        done = actions.retry_all_failed(
            session=session, account_id=account_id, clock=process.runtime().clock, actor=actor
        )
    widgets.flash(f"{done} contact{'s' if done != 1 else ''} queued for retry.")


def dismiss(enrollment_ids: list[int]) -> None:
    """Take these enrollments out of the problem list; they will not sync (admins only)."""
    actor = identity.require_admin("dismiss contacts")
    with store.writing() as session:
        done = actions.dismiss_enrollments(
            session=session, enrollment_ids=enrollment_ids, clock=process.runtime().clock,
            actor=actor,
        )  # fmt: skip
    widgets.flash(f"{done} contact{'s' if done != 1 else ''} dismissed.")


def choose_person(enrollment_id: int, person_id: str | None) -> bool:
    """B2: link the enrollment to the chosen Clockwork person, or to a new one when None
    (admins only); False with the reason on screen when it cannot."""
    actor = identity.require_admin("choose the Clockwork person")
    try:
        with store.writing() as session:
            actions.resolve_review(
                session=session, enrollment_id=enrollment_id, person_id=person_id,
                clock=process.runtime().clock, actor=actor,
            )  # fmt: skip
    except ServiceError as exc:
        show_error(exc)
        return False
    widgets.flash("Choice saved: the contact is queued to sync.")
    return True


def correct_contact(
    enrollment_id: int, fields: dict[str, str]
) -> dict[str, tuple[str, str]] | None:
    """Save an admin's correction of an enrollment's contact (admins only); the changed fields'
    (old, new), or None with the reason on screen when it cannot be saved."""
    actor = identity.require_admin("correct a contact")
    try:
        with store.writing() as session:
            return contact_edits.correct_contact(
                session=session, enrollment_id=enrollment_id, fields=fields,
                clock=process.runtime().clock, actor=actor,
            )  # fmt: skip
    except ServiceError as exc:
        show_error(exc)
        return None


def detail(enrollment_id: int, projects: dict[str, str]) -> None:
    """One enrollment: status, reason and action, the field Clockwork refused, the flag, and its
    timeline; for admins, the contact's correction, Retry and Dismiss."""
    try:
        with store.reading() as session:
            found = history.enrollment_detail(
                session=session, enrollment_id=enrollment_id, project_names=projects
            )
            contact = contact_edits.contact_for_correction(
                session=session, enrollment_id=enrollment_id
            )
            attempts = actions.attempts_made(session=session, enrollment_id=enrollment_id)
    except ServiceError as exc:
        show_error(exc)
        return
    row = found.row
    widgets.show_flash()  # left by a button of this detail, in a run of the detail alone
    with st.container(border=True):
        st.markdown(f"#### {plain(row.name or row.email)}")
        badges(row)
        st.text(f"{row.email} · in the sequence {row.sequence}")
        a, b, c = st.columns(3)
        # The status alone: how many attempts is the metric beside it (a label with both was cut).
        a.metric("Status", reason_texts.STATUS_LABELS.get(row.status, row.status))
        b.metric(
            "Attempts",
            attempts,
            help="Every sync attempt so far, as the timeline lists them. Retry starts a new "
            "round of automatic attempts; it does not start the count again.",
        )
        c.metric("Created / linked", (row.link or "—").capitalize())
        if row.next_attempt_at is not None:
            st.caption(
                f"Next automatic attempt {times.relative(row.next_attempt_at)} "
                f"({times.timestamp(row.next_attempt_at)})."
            )
        st.text(f"Project: {found.project}")
        if row.reason_message:
            advice = f" **What to do:** {row.action}." if row.action else ""
            st.info(f"{plain(row.reason_message)}.{advice}", icon=":material/info:")
        if contact.refused is not None and row.status == "failed":
            st.error(
                f"**{contact.refused.labels}** was refused: {plain(contact.refused.message)}",
                icon=":material/edit_off:",
            )
        if row.exists_in_clockwork:
            st.warning(
                "**Exists in Clockwork**: a recruiter had entered this person before the "
                "integration. The contact was linked to that record, not duplicated.",
                icon=":material/person_search:",
            )
        admin = identity.is_admin()
        if row.status == "needs_review" and found.review_candidates:
            review(row.enrollment_id, found.review_candidates, admin=admin)
        if row.person_url:
            st.link_button(
                "Open the person in Clockwork", row.person_url, icon=":material/open_in_new:"
            )
        st.markdown("**Timeline**")
        timeline = [
            {"When": times.timestamp(e.at), "Event": e.event, "Detail": e.detail}
            for e in found.timeline
        ]
        st.dataframe(
            tables.frame(timeline, ["When", "Event", "Detail"]),
            hide_index=True,
            row_height=tables.row_height(timeline, {"Detail": TIMELINE_WIDTHS["Detail"]}),
            column_config={
                name: st.column_config.TextColumn(width=width)
                for name, width in TIMELINE_WIDTHS.items()
            },
        )
        technical_details(found)
        if not admin:
            return
        correction(row.enrollment_id, contact, failed=row.status == "failed")
        buttons = st.container(horizontal=True)
        buttons.button(
            "Retry",
            key="detail_retry",
            disabled=row.status != "failed",
            on_click=_from_detail,
            args=(retry, row.enrollment_id),
        )
        buttons.button(
            "Dismiss",
            key="detail_dismiss",
            disabled=row.status in ("synced", "skipped", "syncing"),
            help="Take it out of the problem list; it will not sync.",
            on_click=_from_detail,
            args=(dismiss, row.enrollment_id),
        )
    if st.session_state.pop(DETAIL_CHANGED, False):
        st.rerun()  # the table above shows it too


def badges(row: contact_table.EnrollmentRow) -> None:
    """The status as a coloured pill, the Exists in Clockwork flag as a badge, and the dates the
    table leaves out."""
    line = st.container(horizontal=True, vertical_alignment="center", gap="small")
    line.badge(
        reason_texts.STATUS_LABELS.get(row.status, row.status),
        color=STATUS_BADGES.get(row.status, "gray"),  # type: ignore[arg-type]
    )
    if row.exists_in_clockwork:
        line.badge(tables.FLAG, icon=":material/person_search:", color="orange")
    added = times.timestamp(row.added_at)
    tried = times.timestamp(row.last_attempt_at)
    line.caption(f"Added {added}" + (f" · last attempt {tried}" if tried else ""))


def technical_details(found: history.EnrollmentDetail) -> None:
    """What an engineer needs, one click away: ids, codes and Clockwork's own error text."""
    row = found.row
    with st.expander("Technical details", icon=":material/code:"):
        facts = {
            "Enrollment id": str(row.enrollment_id),
            "Status code": row.status,
            "Reason code": row.reason or "—",
            "Clockwork person id": row.clockwork_person_id or "—",
            "Project id": row.project_id or "—",
            "Last error": row.last_error or "—",
        }
        for name, value in facts.items():
            st.text(f"{name}: {value}")
        notes = [e for e in found.timeline if e.technical]
        if notes:
            st.dataframe(
                tables.frame(
                    [
                        {
                            "When (UTC)": csv_export.iso_utc(e.at),
                            "Event": e.event,
                            "Detail": e.technical,
                        }
                        for e in notes
                    ],
                    ["When (UTC)", "Event", "Detail"],
                ),
                hide_index=True,
                column_config={"Detail": st.column_config.TextColumn(width="large")},
            )


DETAIL_CHANGED = "_contacts_detail_changed"


def _from_detail(action: Callable[[list[int]], None], enrollment_id: int) -> None:
    """A detail button's callback: the action runs before the detail is drawn again, so what it
    did (Queued, after a retry) shows at once, not after the scheduler has moved on; the whole
    page follows."""
    action([enrollment_id])
    st.session_state[DETAIL_CHANGED] = True


CORRECTION_LAYOUT = (("first_name", "last_name", "email"), ("title", "company", "linkedin_url"))


def correction(
    enrollment_id: int, contact: contact_edits.ContactForCorrection, *, failed: bool
) -> None:
    """The contact's data in a form an admin corrects: open when a field of it was refused."""
    refused = contact.refused.fields if contact.refused is not None and failed else ()
    with st.expander(
        "Fix the contact" if refused else "Correct the contact's data", expanded=bool(refused)
    ):
        keys = {name: f"fix_{enrollment_id}_{name}" for name in contact_edits.CONTACT_FIELDS}
        with st.form(f"fix_{enrollment_id}", border=False):
            typed: dict[str, str] = {}
            for names in CORRECTION_LAYOUT:
                for column, name in zip(st.columns(len(names)), names, strict=True):
                    typed[name] = column.text_input(
                        contact_edits.FIELD_LABELS[name],
                        value=contact.values[name],
                        key=keys[name],
                        max_chars=500,
                        help="Refused by Clockwork: correct it, save, then Retry."
                        if name in refused
                        else None,
                    )
            notes = []
            sent = [contact_edits.FIELD_LABELS[name] for name in contact.sent]
            if sent:
                notes.append(
                    f"Clockwork already has {', '.join(sent)}: a correction of these changes "
                    "them here, not in Clockwork (correct them there too if they were wrong)."
                )
            if contact.enrollments > 1:
                notes.append(
                    f"The contact is in {contact.enrollments} sequences: the correction "
                    "applies to each."
                )
            if notes:
                st.caption(" ".join(notes))
            saved = st.form_submit_button(
                "Save the contact", type="primary", icon=":material/save:"
            )
        if not saved:
            return
        changed = correct_contact(enrollment_id, typed)
        if changed is None:
            return
        for key in keys.values():  # drawn again from the saved contact
            st.session_state.pop(key, None)
        if changed:
            labels = ", ".join(contact_edits.FIELD_LABELS[name] for name in changed)
            widgets.flash(
                f"Contact saved ({labels})." + (" Retry to sync it now." if failed else "")
            )
        else:
            widgets.flash("Nothing changed: the contact already had these values.")
        st.rerun()


def review(enrollment_id: int, candidates: list[dict], *, admin: bool) -> None:
    """B2: several Clockwork people share the contact's LinkedIn profile; an admin chooses one."""
    new = "__new__"
    labels = {new: "None of these: create a new person"}
    for candidate in candidates:
        emails = ", ".join(str(e) for e in candidate.get("emails") or []) or "no email"
        position = candidate.get("position") or ""
        labels[str(candidate["id"])] = f"{candidate.get('name') or 'Unnamed'} ({emails}) {position}"
    # Radio options are Markdown: what Clockwork holds is shown literally.
    options = {candidate_id: plain(label) for candidate_id, label in labels.items()}
    if not admin:
        st.markdown("**Waiting for an admin to choose the Clockwork person** (several share this "
                    "LinkedIn profile):")  # fmt: skip
        for candidate_id, label in labels.items():
            if candidate_id != new:
                st.text(label)
        return
    st.markdown("**Choose the Clockwork person** (several share this LinkedIn profile)")
    choice = st.radio(
        "Person", list(options), format_func=options.get, key=f"review_{enrollment_id}",
        label_visibility="collapsed",
    )  # fmt: skip
    saved = st.button("Use this choice", type="primary", key=f"review_save_{enrollment_id}")
    if saved and choose_person(enrollment_id, None if choice == new else choice):
        st.rerun()


def enrollment_account(enrollment_id: int) -> int | None:
    """The account an enrollment belongs to (None if there is no such enrollment)."""
    with store.reading() as session:
        try:
            return enrollments.get_enrollment(
                session=session, enrollment_id=enrollment_id
            ).account_id
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

"""The Contacts page's detail view of one enrollment: status, reason and what to do, the field
Clockwork refused, the Exists in Clockwork flag, the timeline and the technical details; for
admins, the review choice, the contact's correction, Retry and Dismiss."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard import identity, store, tables, times, widgets
from dashboard.app_pages.contact_actions import choose_person, correct_contact, dismiss, retry
from dashboard.plain_text import plain
from dashboard.theme import STATUS_BADGES
from dashboard.widgets import show_error
from sync_engine.services import actions, contact_edits
from sync_engine.services.errors import ServiceError
from sync_engine.services.queries import contact_table, csv_export, history, reason_texts

# The detail view's timeline, inside its bordered box: 1,050 px at 1440 px.
TIMELINE_WIDTHS = {"When": 190, "Event": 180, "Detail": 680}


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

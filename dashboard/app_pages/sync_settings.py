"""Sync settings: the account's sync option, deduplication, default project and activity tracking.

Changes are previewed (what they will and will not affect) before they are saved through
``accounts.update_settings``, which audits each field under the signed-in admin.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import identity, process, sidebar, store, theme, widgets
from dashboard.widgets import project_picker, projects, show_error, show_preview
from sync_engine.domain import SyncMode
from sync_engine.services import accounts
from sync_engine.services.errors import ServiceError
from sync_engine.services.projects import resolve_project
from sync_engine.services.queries import previews

# One story in both places: matching by email, which never creates a duplicate, happens either
# way; the setting only adds the check and the flag (SPEC R3, R4).
DEDUP_HELP = (
    "Check each new contact against Clockwork when it is added and flag it **Exists in "
    "Clockwork** when a recruiter had already entered that person."
)
DEDUP_CAPTION = (
    "On or off, a contact whose email is already in Clockwork is linked to that person, never "
    "created again. Deduplication adds the flag, so you can see who was already there."
)
SYNC_OPTIONS = {
    SyncMode.ON_ADD.value: "Sync contacts when added to a sequence",
    SyncMode.ON_REPLY.value: "Only sync contacts when they reply",
    SyncMode.OFF.value: "Off: don't sync contacts",
}


def render() -> None:
    """Draw the Sync settings page (admins only)."""
    theme.narrow()  # a form page: at a reading width
    st.title("Sync settings")
    identity.require_admin("change sync settings")
    st.caption("When contacts sync to Clockwork, and where they go. Changes apply from now on.")
    account_id = sidebar.select_account()
    if account_id is None:
        return
    with store.reading() as session:
        current = accounts.get_settings(session=session, account_id=account_id)
    choices, _ = projects(account_id)
    key = f"settings_{account_id}"

    st.subheader("Syncing")
    mode = st.radio(
        "When should contacts sync to Clockwork?",
        list(SYNC_OPTIONS),
        index=list(SYNC_OPTIONS).index(current.sync_mode),
        format_func=SYNC_OPTIONS.get,
        key=f"{key}_mode",
    )
    dedup = st.toggle(
        "Deduplication",
        value=current.deduplication,
        key=f"{key}_dedup",
        help=DEDUP_HELP,
    )
    st.caption(DEDUP_CAPTION)
    linkedin = st.toggle(
        "Link by LinkedIn URL",
        value=current.link_by_linkedin,
        key=f"{key}_linkedin",
        help="When no Clockwork person has the contact's email but one has its LinkedIn profile, "
        "link that person and add the new email to it instead of creating a second record.",
    )
    st.caption(
        "Off by default. When several people share the LinkedIn profile the contact waits for "
        "you to choose (Contacts page, status Needs review)."
    )

    st.subheader("Default project")
    project = project_picker(
        account_id,
        "Project new contacts join",
        current.default_project_id,
        key=f"{key}_project",
        help="Used for sequences without their own project.",
    )
    st.caption(
        "Leave this blank if you set projects per sequence (Sequences page, Syncing tab); "
        "contacts are then created or linked in Clockwork without joining a project."
    )

    st.subheader("Activity tracking")
    tracking = st.toggle(
        "Write email activity to Clockwork as notes",
        value=current.activity_tracking,
        key=f"{key}_tracking",
    )
    st.caption(
        "Sent, opened, clicked, replied and bounced emails become notes on the person. "
        "Activity is not backfilled: nothing from while tracking was off is sent later."
    )

    wanted: dict[str, Any] = {
        "sync_mode": mode,
        "deduplication": dedup,
        "default_project_id": project,
        "activity_tracking": tracking,
        "link_by_linkedin": linkedin,
    }
    changes = {name: value for name, value in wanted.items() if value != getattr(current, name)}
    st.divider()
    if not changes:
        st.caption("No unsaved changes.")
        return
    with store.reading() as session:
        preview = previews.preview_settings_change(
            session=session, account_id=account_id, changes=changes, project_names=choices
        )
    show_preview(preview)
    buttons = st.container(horizontal=True)
    saved = buttons.button("Save changes", type="primary", icon=":material/save:")
    if saved and save_settings(account_id, changes):
        st.rerun()
    if buttons.button("Discard"):
        for suffix in ("mode", "dedup", "project", "tracking", "linkedin"):
            st.session_state.pop(f"{key}_{suffix}", None)
        st.rerun()


def save_settings(account_id: int, changes: dict[str, Any]) -> bool:
    """Save the account's sync settings (admins only); False with the reason on screen when they
    cannot be saved."""
    actor = identity.require_admin("save sync settings")
    try:
        if changes.get("default_project_id"):  # the firm must have it, as on the CLI
            resolve_project(
                process.runtime(), account_id=account_id, ref=changes["default_project_id"],
                field="Default project",
            )  # fmt: skip
        with store.writing() as session:
            accounts.update_settings(
                session=session, account_id=account_id, changes=changes,
                actor=actor,
            )  # fmt: skip
    except ServiceError as exc:
        show_error(exc)
        return False
    widgets.flash("Sync settings saved.")
    return True


if __name__ == "__main__":  # run as a page; imported, it only defines its actions
    render()

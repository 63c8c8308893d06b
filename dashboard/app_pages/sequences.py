"""Sequences: each sequence's sync state and project, and its Syncing tab (Disable Sync, Project)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import identity, process, sidebar, store, tables, widgets
from dashboard.plain_text import plain
from dashboard.widgets import count_column, project_picker, projects, show_error, show_preview
from sync_engine.services import accounts, project_resync, wording
from sync_engine.services.errors import ServiceError
from sync_engine.services.projects import resolve_project
from sync_engine.services.queries import overview, previews, reason_texts

COLUMNS = ["Sequence", "Sync", "Project", "Contacts", "Failed"]
UNLISTED = "A project Clockwork does not list"


def sequence_table(rows: list[overview.SequenceRow], names: dict[str, str], default: str | None):
    """The sequences table with the sync marker and the project each one syncs to."""

    def project(row: overview.SequenceRow) -> str:
        """The project a sequence's new contacts join, in words."""
        if row.project_id:
            return names.get(row.project_id, UNLISTED)
        if default:
            return f"Account default: {names.get(default, UNLISTED[0].lower() + UNLISTED[1:])}"
        return "No project"

    return tables.frame(
        [
            {
                "Sequence": row.name,
                "Sync": "⊘ Sync disabled" if row.disable_sync else "✓ Syncing",
                "Project": project(row),
                "Contacts": row.total,
                "Failed": row.failed,
            }
            for row in rows
        ],
        COLUMNS,
    )


def add_sequence(account_id: int) -> None:
    """Create a sequence with its Syncing tab settings."""
    with (
        st.expander("New sequence", icon=":material/add:"),
        st.form("new_sequence", border=False, clear_on_submit=True),
    ):
        name = st.text_input("Name", max_chars=200)
        disable = st.checkbox("Disable Sync")
        project = project_picker(
            account_id,
            "Project",
            None,
            key="new_sequence_project",
            help="Blank uses the account's default project.",
            blank="Account default (blank)",
        )
        submitted = st.form_submit_button("Create sequence")
    if submitted and create_sequence(account_id, name, disable, project):
        st.rerun()


def create_sequence(account_id: int, name: str, disable_sync: bool, project_id: str | None) -> bool:
    """Create a sequence (admins only); False with the reason on screen when it cannot."""
    actor = identity.require_admin("create sequences")
    try:
        if project_id:  # the firm must still have it (the picker's list may be minutes old)
            project_id = checked_project(account_id, project_id)
        with store.writing() as session:
            sequence = accounts.add_sequence(
                session=session, account_id=account_id, name=name, disable_sync=disable_sync,
                project_id=project_id, actor=actor,
            )  # fmt: skip
    except ServiceError as exc:
        show_error(exc)
        return False
    st.session_state[f"sequence_pick_{account_id}"] = sequence.id  # its settings show next
    widgets.flash(f"Sequence {plain(sequence.name)} created.")
    return True


def checked_project(account_id: int, project_id: str) -> str:
    """The id of the firm's project ``project_id``, checked with Clockwork (a `ServiceError`
    with the reason when the firm no longer has it or cannot be asked)."""
    found = resolve_project(
        process.runtime(), account_id=account_id, ref=project_id, field="Project"
    )
    return found.project_id


def syncing_tab(account_id: int, sequence: overview.SequenceRow, names: dict[str, str]) -> None:
    """Disable Sync and the project override, previewed before saving."""
    key = f"sequence_{sequence.sequence_id}"
    disable = st.toggle("Disable Sync", value=sequence.disable_sync, key=f"{key}_disable")
    st.caption(
        "Contacts added while Disable Sync is on are never synced, even if they reply. Set it "
        "before adding contacts: turning it on later does not stop contacts already added."
    )
    project = project_picker(
        account_id,
        "Project",
        sequence.project_id,
        key=f"{key}_project",
        help="Blank uses the account's default project.",
        blank="Account default (blank)",
    )
    st.caption(
        "Set the project before adding contacts. Contacts already synced are not re-synced to "
        "a project chosen later."
    )
    wanted: dict[str, Any] = {"disable_sync": disable, "project_id": project}
    current = {"disable_sync": sequence.disable_sync, "project_id": sequence.project_id}
    changes = {name: value for name, value in wanted.items() if value != current[name]}
    if not changes:
        st.caption("No unsaved changes.")
        return
    with store.reading() as session:
        preview = previews.preview_sequence_change(
            session=session, sequence_id=sequence.sequence_id, changes=changes, project_names=names
        )
    show_preview(preview)
    saved = st.button("Save Syncing settings", type="primary", key=f"{key}_save")
    if saved and save_syncing(sequence.sequence_id, changes):
        st.rerun()


def save_syncing(sequence_id: int, changes: dict[str, Any]) -> bool:
    """Save a sequence's Disable Sync and project (admins only); False with the reason on screen
    when it cannot."""
    actor = identity.require_admin("change a sequence's Syncing settings")
    try:
        if changes.get("project_id"):
            with store.reading() as session:
                account_id = accounts.get_sequence(
                    session=session, sequence_id=sequence_id
                ).account_id
            changes = {**changes, "project_id": checked_project(account_id, changes["project_id"])}
        with store.writing() as session:
            sequence = accounts.update_sequence(
                session=session, sequence_id=sequence_id, changes=changes,
                actor=actor,
            )  # fmt: skip
    except ServiceError as exc:
        show_error(exc)
        return False
    widgets.flash(f"Syncing settings of {plain(sequence.name)} saved.")
    return True


def resync(sequence: overview.SequenceRow, names: dict[str, str]) -> None:
    """B3: add contacts synced before the sequence had a project to that project, explicitly."""
    st.divider()
    st.markdown("**Re-sync to project**")
    st.caption(
        "Contacts synced before a project was chosen are not added to it automatically. "
        "Preview who would be added, then confirm."
    )
    key = f"resync_plan_{sequence.sequence_id}"
    if st.button("Preview re-sync", key=f"{key}_preview", icon=":material/preview:"):
        st.session_state[key] = preview_resync(sequence.sequence_id)
    plan = st.session_state.get(key)
    if plan is None:
        return
    if plan.project_id is None:
        st.info("Neither this sequence nor the account has a project to re-sync to.")
        return
    target = plain(names.get(plan.project_id, "the project (not listed by Clockwork now)"))
    if not plan.items:
        st.success(f"Every synced contact already joined {target}.")
        return
    st.markdown(
        f"{wording.plural(len(plan.to_add), 'contact')} would be added to {target}; "
        f"{len(plan.already_there):,} {'is' if len(plan.already_there) == 1 else 'are'} already "
        "in it (recorded, nothing sent)."
    )
    st.dataframe(
        tables.frame(
            [
                {"Email": item.email, "Already in project": item.already_in_project}
                for item in plan.items
            ],
            ["Email", "Already in project"],
        ),
        hide_index=True,
    )
    applied = st.button(
        f"Re-sync {wording.plural(len(plan.items), 'contact')}", type="primary", key=f"{key}_apply"
    )
    if applied and queue_resync(sequence.sequence_id, target):
        st.session_state.pop(key, None)
        st.rerun()


def preview_resync(sequence_id: int) -> project_resync.ResyncPlan | None:
    """B3: who a re-sync would add where (admins only: it asks Clockwork); None with the reason
    on screen when it cannot be planned."""
    identity.require_admin("re-sync contacts to a project")
    try:
        return project_resync.plan_resync(process.runtime(), sequence_id=sequence_id)
    except ServiceError as exc:
        show_error(exc)
        return None


def queue_resync(sequence_id: int, target: str) -> bool:
    """B3: queue the re-sync (admins only); False with the reason on screen when it cannot.
    ``target`` names the project in the confirmation, already escaped for Markdown."""
    actor = identity.require_admin("re-sync contacts to a project")
    try:
        done = project_resync.apply_resync(process.runtime(), sequence_id=sequence_id, actor=actor)
    except ServiceError as exc:
        show_error(exc)
        return False
    widgets.flash(f"{wording.plural(len(done.to_add), 'contact')} queued to join {target}.")
    return True


def render() -> None:
    """Draw the Sequences page (admins only)."""
    st.title("Sequences")
    identity.require_admin("change sequences")
    st.caption("Which sequences sync, and the Clockwork project each one's contacts join.")
    account_id = sidebar.select_account()
    if account_id is None:
        return
    with store.reading() as session:
        rows = overview.sequence_overview(session=session, account_id=account_id)
        default = accounts.get_settings(session=session, account_id=account_id).default_project_id
    names, _ = projects(account_id)
    if not rows:
        st.info("This account has no sequences yet.")
    else:
        st.dataframe(
            sequence_table(rows, names, default),
            hide_index=True,
            column_config={  # 1,080 px: project names whole at 1440 px
                "Sequence": st.column_config.TextColumn(width=280),
                "Sync": st.column_config.TextColumn(width=140),
                "Project": st.column_config.TextColumn(width=460),
                "Contacts": count_column(),
                "Failed": count_column(),
            },
        )
    add_sequence(account_id)
    if not rows:
        return
    by_id = {row.sequence_id: row for row in rows}
    chosen = st.selectbox(
        "Sequence settings",
        list(by_id),
        format_func=lambda sequence_id: by_id[sequence_id].name,
        key=f"sequence_pick_{account_id}",
    )
    sequence = by_id[chosen]
    syncing, contacts = st.tabs(["Syncing", "Contacts"])
    with syncing:
        syncing_tab(account_id, sequence, names)
        resync(sequence, names)
    with contacts:
        with store.reading() as session:
            counts = overview.sequence_status_counts(session=session, sequence_id=chosen)
        columns = st.columns(4)
        for index, (status, label) in enumerate(reason_texts.STATUS_LABELS.items()):
            columns[index % 4].metric(label, f"{counts.get(status, 0):,}")
        st.caption("See each contact on the Contacts page (filter by this sequence).")


if __name__ == "__main__":  # run as a page; imported, it only defines its actions
    render()

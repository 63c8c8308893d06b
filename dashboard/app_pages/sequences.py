"""Sequences: each sequence's sync state and project, and its Syncing tab (Disable Sync, Project)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import context
from dashboard.widgets import project_picker, projects, show_preview
from sync_engine.services import accounts, views
from sync_engine.services.errors import ServiceError

COLUMNS = ["Sequence", "Sync", "Project", "Contacts", "Synced", "Awaiting reply", "Failed"]


def sequence_table(rows: list[views.SequenceRow], names: dict[str, str], default: str | None):
    def project(row: views.SequenceRow) -> str:
        if row.project_id:
            return names.get(row.project_id, row.project_id)
        if default:
            return f"Account default: {names.get(default, default)}"
        return "No project"

    return context.frame(
        [
            {
                "Sequence": row.name,
                "Sync": "⊘ Sync disabled" if row.disable_sync else "✓ Syncing",
                "Project": project(row),
                "Contacts": sum(row.counts.values()),
                "Synced": row.counts.get("synced", 0),
                "Awaiting reply": row.counts.get("awaiting_reply", 0),
                "Failed": row.counts.get("failed", 0),
            }
            for row in rows
        ],
        COLUMNS,
    )


def add_sequence(account_id: int, names: dict[str, str]) -> None:
    with (
        st.expander("New sequence", icon=":material/add:"),
        st.form("new_sequence", border=False, clear_on_submit=True),
    ):
        name = st.text_input("Name", max_chars=200)
        disable = st.checkbox("Disable Sync")
        project = st.selectbox(
            "Project",
            ["", *names],
            format_func=lambda option: names.get(option, "Account default"),
        )
        if st.form_submit_button("Create sequence"):
            try:
                with context.writing() as session:
                    accounts.add_sequence(
                        session=session, account_id=account_id, name=name, disable_sync=disable,
                        project_id=project or None, clock=context.runtime().clock,
                        actor=context.actor(),
                    )  # fmt: skip
            except ServiceError as exc:
                context.show_error(exc)
                return
            context.flash(f"Sequence {name} created.")
            st.rerun()


def syncing_tab(sequence: views.SequenceRow, names: dict[str, str]) -> None:
    key = f"sequence_{sequence.sequence_id}"
    disable = st.toggle("Disable Sync", value=sequence.disable_sync, key=f"{key}_disable")
    st.caption(
        "Contacts added while Disable Sync is on are never synced, even if they reply. Set it "
        "before adding contacts: turning it on later does not stop contacts already added."
    )
    project = project_picker(
        "Project",
        sequence.project_id,
        names,
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
    with context.reading() as session:
        preview = views.preview_sequence_change(
            session=session, sequence_id=sequence.sequence_id, changes=changes, project_names=names
        )
    show_preview(preview)
    if st.button("Save Syncing settings", type="primary", key=f"{key}_save"):
        try:
            with context.writing() as session:
                accounts.update_sequence(
                    session=session, sequence_id=sequence.sequence_id, changes=changes,
                    clock=context.runtime().clock, actor=context.actor(),
                )  # fmt: skip
        except ServiceError as exc:
            context.show_error(exc)
            return
        context.flash(f"Syncing settings of {sequence.name} saved.")
        st.rerun()


def render() -> None:
    st.title("Sequences")
    st.caption("Which sequences sync, and the Clockwork project each one's contacts join.")
    account_id = context.select_account()
    if account_id is None:
        return
    with context.reading() as session:
        rows = views.sequence_overview(session=session, account_id=account_id)
        default = accounts.get_settings(session=session, account_id=account_id).default_project_id
    names, _ = projects(account_id)
    if not rows:
        st.info("This account has no sequences yet.")
    else:
        st.dataframe(
            sequence_table(rows, names, default),
            hide_index=True,
            column_config={"Project": st.column_config.TextColumn(width="medium")},
        )
    add_sequence(account_id, names)
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
        syncing_tab(sequence, names)
    with contacts:
        for status, label in views.STATUS_LABELS.items():
            st.text(f"{label}: {sequence.counts.get(status, 0)}")
        st.caption("See each contact on the Contacts page (filter by this sequence).")


render()

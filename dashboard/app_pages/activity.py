"""Activity: email events of the account's contacts and whether each became a Clockwork note."""

from __future__ import annotations

import streamlit as st

from dashboard import identity, pager, sidebar, store, tables, times, widgets
from dashboard.theme import STATUS_COLOURS
from sync_engine.domain import ActivityKind, ActivityState
from sync_engine.services import activity_backfill, wording
from sync_engine.services.queries import logs, reason_texts

STATE_WORDS = {
    ActivityState.SYNCED: "Note written",
    ActivityState.PENDING: "Pending",
    ActivityState.SKIPPED: "Not sent",
    ActivityState.FAILED: "Failed",
}
COLUMNS = ["When", "Event", "Contact", "Sequence", "Subject", "Note", "Why not sent", "Attempts"]
# Pixels per shown column: 1,090 in all, what the main area has at 1440 px (Attempts stays in
# the data, not on screen).
WIDTHS = {
    "When": 175, "Event": 70, "Contact": 250, "Sequence": 195, "Subject": 120, "Note": 115,
    "Why not sent": 165,
}  # fmt: skip
# The note's state as a pill: written green, failed red, pending violet, not sent grey.
NOTE_COLOURS = {
    ActivityState.SYNCED: STATUS_COLOURS["synced"],
    ActivityState.PENDING: STATUS_COLOURS["queued"],
    ActivityState.SKIPPED: STATUS_COLOURS["skipped"],
    ActivityState.FAILED: STATUS_COLOURS["failed"],
}
PREVIEW_ROWS = 500  # backfill rows shown before confirming; the count covers the rest


def render() -> None:
    """Draw the Activity page."""
    st.title("Activity")
    st.caption(
        "Email events become notes on the Clockwork person when activity tracking was on at the "
        "time. Events from before the person existed are delivered once it does."
    )
    account_id = sidebar.select_account()
    if account_id is None:
        return
    with store.reading() as session:
        counts = logs.activity_counts_by_state(session=session, account_id=account_id)
    for column, (state, label) in zip(st.columns(4), STATE_WORDS.items(), strict=True):
        column.metric(label, f"{counts.get(state, 0):,}")
    left, right = st.columns(2)
    kinds = left.multiselect(
        "Event", [kind.value for kind in ActivityKind], key="activity_kind",
        format_func=str.capitalize,
    )  # fmt: skip
    states = right.multiselect(
        "Note", list(STATE_WORDS), key="activity_state", format_func=lambda s: STATE_WORDS[s]
    )
    if not states and not kinds:  # every activity: the counts above add up to it
        total = sum(counts.values())
    else:
        with store.reading() as session:
            total = logs.count_activities(
                session=session, account_id=account_id, states=tuple(states), kinds=tuple(kinds)
            )
    limit, offset = pager.page_range(total, key="activity_page")
    with store.reading() as session:
        rows = logs.list_activities(
            session=session, account_id=account_id, states=tuple(states), kinds=tuple(kinds),
            limit=limit, offset=offset, total=total,
        )  # fmt: skip
    shown = [
        {
            "When": times.timestamp(row.occurred_at),
            "Event": row.kind.capitalize(),
            "Contact": row.email,
            "Sequence": row.sequence,
            "Subject": row.subject,
            "Note": [STATE_WORDS.get(ActivityState(row.state), row.state)],
            "Why not sent": row.reason_message
            or ("Clockwork did not take the note yet; it is retried" if row.last_error else ""),
            "Attempts": row.attempts,
        }
        for row in rows
    ]
    row_height = tables.row_height(
        shown, {name: WIDTHS[name] for name in ("Contact", "Sequence", "Subject", "Why not sent")}
    )  # wrapped rows when a text is longer than its column
    st.dataframe(
        tables.frame(shown, COLUMNS),
        hide_index=True,
        # the whole page of events: the page scrolls, not a box inside it
        height=tables.table_height(len(rows), row=row_height),
        row_height=row_height,
        column_order=list(WIDTHS),
        column_config={
            **{name: st.column_config.TextColumn(width=width) for name, width in WIDTHS.items()},
            "Note": st.column_config.MultiselectColumn(
                width=WIDTHS["Note"],
                options=[STATE_WORDS[state] for state in NOTE_COLOURS],
                color=list(NOTE_COLOURS.values()),
                disabled=True,
            ),
        },
    )
    pager.controls(total, key="activity_page")  # under the table: its toolbar covers what is above
    errors = [row for row in rows if row.last_error]
    if errors:
        with st.expander("Technical details", icon=":material/code:"):
            st.dataframe(
                tables.frame(
                    [
                        {"Activity id": row.activity_id, "Contact": row.email,
                         "Last error": row.last_error}
                        for row in errors
                    ],
                    ["Activity id", "Contact", "Last error"],
                ),
                hide_index=True,
            )  # fmt: skip
    if identity.is_admin():
        backfill(account_id)


def backfill(account_id: int) -> None:
    """B4: send activity that was skipped because tracking was off, explicitly, after a preview
    (admins only)."""
    # Tracked, so the preview's queries run only while it is open (a folded expander's body
    # still runs in Streamlit, and on a large account the preview is not cheap).
    box = st.expander(
        "Activity backfill", icon=":material/history:", key="backfill_open", on_change="rerun"
    )
    if not box.open:
        return
    with box:
        st.caption(
            "Activity recorded while tracking was off is not sent automatically. Preview what a "
            "backfill would send to Clockwork, then confirm."
        )
        before = st.checkbox(
            "Also send activity from before Clockwork was connected", key="backfill_before"
        )
        with store.reading() as session:  # a count and the first rows: the page stays fast
            total = activity_backfill.count_backfill(
                session=session, account_id=account_id, include_before_connection=before
            )
            items = activity_backfill.plan_backfill(
                session=session, account_id=account_id, include_before_connection=before,
                limit=PREVIEW_ROWS,
            )  # fmt: skip
        if not total:
            st.success("Nothing to backfill.", icon=":material/check_circle:")
            return
        shown = f" (the first {len(items)} below)" if total > len(items) else ""
        st.write(f"{wording.plural(total, 'activity')} would be written as notes{shown}:")
        st.dataframe(
            tables.frame(
                [
                    {
                        "When": times.timestamp(item.occurred_at),
                        "Event": item.kind.capitalize(),
                        "Contact": item.email,
                        "Skipped because": reason_texts.reason_message(item.reason) or "",
                    }
                    for item in items
                ],
                ["When", "Event", "Contact", "Skipped because"],
            ),
            hide_index=True,
        )
        if st.button(
            f"Send {wording.plural(total, 'activity')}", type="primary", key="backfill_apply"
        ):
            send_backfill(account_id, include_before_connection=before)
            st.rerun()


def send_backfill(account_id: int, *, include_before_connection: bool) -> None:
    """B4: queue the skipped activity for Clockwork, planned afresh at confirmation (admins
    only)."""
    actor = identity.require_admin("backfill activity")
    with store.writing() as session:
        plan = activity_backfill.plan_backfill(
            session=session, account_id=account_id,
            include_before_connection=include_before_connection,
        )  # fmt: skip
        queued = activity_backfill.apply_backfill(
            session=session, account_id=account_id, items=plan, actor=actor
        )
    widgets.flash(f"{wording.plural(queued, 'activity')} queued for Clockwork.")


if __name__ == "__main__":  # run as a page; imported, it only defines its actions
    render()

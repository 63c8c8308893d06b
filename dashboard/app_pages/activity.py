"""Activity: email events of the account's contacts and whether each became a Clockwork note."""

from __future__ import annotations

import streamlit as st

from dashboard import context, pager
from dashboard.tables import table_height
from sync_engine.models import ActivityKind, ActivityState
from sync_engine.services import activity_backfill, views

STATE_WORDS = {
    ActivityState.SYNCED: "Note written",
    ActivityState.PENDING: "Pending",
    ActivityState.SKIPPED: "Not sent",
    ActivityState.FAILED: "Failed",
}
COLUMNS = ["When", "Event", "Contact", "Sequence", "Subject", "Note", "Why not sent", "Attempts"]
PREVIEW_ROWS = 500  # backfill rows shown before confirming; the count covers the rest


def render() -> None:
    """Draw the Activity page."""
    st.title("Activity")
    st.caption(
        "Email events become notes on the Clockwork person when activity tracking was on at the "
        "time. Events from before the person existed are delivered once it does."
    )
    account_id = context.select_account()
    if account_id is None:
        return
    with context.reading() as session:
        counts = views.activity_counts_by_state(session=session, account_id=account_id)
    for column, (state, label) in zip(st.columns(4), STATE_WORDS.items(), strict=True):
        column.metric(label, f"{counts.get(state, 0):,}")
    left, right = st.columns(2)
    kinds = left.multiselect(
        "Event", [kind.value for kind in ActivityKind], key="activity_kind",
        format_func=str.capitalize,
    )  # fmt: skip
    states = right.multiselect(
        "Note", list(STATE_WORDS), key="activity_state", format_func=STATE_WORDS.get
    )
    with context.reading() as session:
        total = views.count_activities(
            session=session, account_id=account_id, states=tuple(states), kinds=tuple(kinds)
        )
    limit, offset = pager.page_range(total, key="activity_page")
    with context.reading() as session:
        rows = views.list_activities(
            session=session, account_id=account_id, states=tuple(states), kinds=tuple(kinds),
            limit=limit, offset=offset, total=total,
        )  # fmt: skip
    st.dataframe(
        context.frame(
            [
                {
                    "When": context.local_time(row.occurred_at),
                    "Event": row.kind.capitalize(),
                    "Contact": row.email,
                    "Sequence": row.sequence,
                    "Subject": row.subject,
                    "Note": STATE_WORDS.get(ActivityState(row.state), row.state),
                    "Why not sent": row.reason_message or row.last_error or "",
                    "Attempts": row.attempts,
                }
                for row in rows
            ],
            COLUMNS,
        ),
        hide_index=True,
        height=table_height(len(rows)),  # the whole page of events: the page scrolls, not a box
        column_config={
            "When": st.column_config.TextColumn(width=170),
            "Event": st.column_config.TextColumn(width=80),
            "Contact": st.column_config.TextColumn(width=220),
            "Sequence": st.column_config.TextColumn(width=180),
            "Note": st.column_config.TextColumn(width=110),
            "Why not sent": st.column_config.TextColumn(width="medium"),
            "Attempts": st.column_config.NumberColumn(width=75),
        },
    )
    pager.controls(total, key="activity_page")  # under the table: its toolbar covers what is above
    if context.is_admin():
        backfill(account_id)


def backfill(account_id: int) -> None:
    """B4: send activity that was skipped because tracking was off, explicitly, after a preview
    (admins only)."""
    # Tracked, so the preview's queries run only while it is open (a folded expander's body
    # still runs in Streamlit: at a million rows the preview cost ~1 s on every visit).
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
        with context.reading() as session:  # a count and the first rows: the page stays fast
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
        st.write(f"{total} activities would be written as notes{shown}:")
        st.dataframe(
            context.frame(
                [
                    {
                        "When": context.local_time(item.occurred_at),
                        "Event": item.kind.capitalize(),
                        "Contact": item.email,
                        "Skipped because": views.reason_info(item.reason).message  # type: ignore[union-attr]
                        if item.reason
                        else "",
                    }
                    for item in items
                ],
                ["When", "Event", "Contact", "Skipped because"],
            ),
            hide_index=True,
        )
        if st.button(f"Send {total} activities", type="primary", key="backfill_apply"):
            send_backfill(account_id, include_before_connection=before)
            st.rerun()


def send_backfill(account_id: int, *, include_before_connection: bool) -> None:
    """B4: queue the skipped activity for Clockwork, planned afresh at confirmation (admins
    only)."""
    actor = context.require_admin("backfill activity")
    rt = context.runtime()
    with context.writing() as session:
        plan = activity_backfill.plan_backfill(
            session=session, account_id=account_id,
            include_before_connection=include_before_connection,
        )  # fmt: skip
        queued = activity_backfill.apply_backfill(
            session=session, account_id=account_id, items=plan, now=rt.clock(), actor=actor
        )
    context.flash(f"{queued} activities queued for Clockwork.")


if __name__ == "__main__":  # run as a page; imported, it only defines its actions
    render()

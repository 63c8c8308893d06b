"""Overview: which accounts need attention, and how the selected account's sync is doing, live."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import charts, process, sidebar, store, tables, times
from dashboard.plain_text import plain
from dashboard.widgets import count, count_column
from sync_engine.services import accounts, wording
from sync_engine.services.queries import overview, reason_texts
from sync_engine.verify import views as verify_views

WINDOWS = {
    "Last hour (per minute)": (timedelta(hours=1), 60),
    "Last 24 hours (per hour)": (timedelta(hours=24), 3600),
    "Last 7 days (per day)": (timedelta(days=7), 86400),
}


def accounts_table(rows: list[overview.AccountHealth]) -> pd.DataFrame:
    """The cross-account table (B10): attention first, then the counts that explain it."""
    return tables.frame(
        [
            {
                "Account": row.name,
                "Needs attention": ", ".join(row.problems) or "—",
                "Connection": [tables.connection_label(row.connection)],
                "Failed": row.counts.get("failed", 0),
                "Retrying": row.counts.get("retrying", 0),
                "Queued": row.counts.get("queued", 0) + row.counts.get("syncing", 0),
                "Awaiting reply": row.counts.get("awaiting_reply", 0),
                "Synced": row.counts.get("synced", 0),
                "Exists in Clockwork": row.exists_in_clockwork,
                "Last successful call": times.relative(row.last_success_at),
            }
            for row in rows
        ],
        [
            "Account", "Needs attention", "Connection", "Failed", "Retrying", "Queued",
            "Awaiting reply", "Synced", "Exists in Clockwork", "Last successful call",
        ],
    )  # fmt: skip


# The failures table's columns, in pixels: 1,080 with the counts, the main area at 1440 px.
FAILURE_WIDTHS = {"Status": 110, "Reason": 480, "Action": 380}
COUNT_COLUMNS = ("Failed", "Retrying", "Queued", "Awaiting reply", "Synced")
STATUS_ROW = 4  # metrics per row: six-digit counts fit at 1440 px with the sidebar open
CHART_TTL = 30  # seconds: the chart scans the account's syncs, the live counts do not


@st.cache_data(ttl=CHART_TTL, show_spinner=False)
def chart_points(account_id: int, window: str) -> list[overview.TimelinePoint]:
    """The chart's buckets, recomputed at most every ``CHART_TTL`` seconds."""
    span, bucket = WINDOWS[window]
    now = process.now()
    with store.reading() as session:
        return overview.sync_timeline(
            session=session, account_id=account_id, since=now - span, now=now, bucket_seconds=bucket
        )


def render_accounts(rows: list[overview.AccountHealth]) -> None:
    """The cross-account table."""
    attention = [row for row in rows if row.needs_attention]
    st.subheader("All accounts")
    if not rows:
        st.info("No accounts yet. Create one on the **Integrations** page.")
        return
    if len(rows) == 1:
        st.caption("The account needs attention." if attention else "The account is healthy.")
    elif attention:
        st.caption(f"{count(len(attention))} of {count(len(rows))} accounts need attention.")
    else:
        st.caption(f"All {count(len(rows))} accounts are healthy.")
    st.dataframe(
        accounts_table(rows),
        hide_index=True,
        column_config={
            "Account": st.column_config.TextColumn(width=150),
            "Needs attention": st.column_config.TextColumn(width=170),
            "Connection": tables.connection_column(width=140),
            **{name: count_column() for name in COUNT_COLUMNS},
            "Exists in Clockwork": count_column(
                help="Contacts a recruiter had already entered in Clockwork (linked, not duplicated)"
            ),
        },
    )


def render_account(account_id: int, window: str, counts: dict[str, int]) -> None:
    """The selected account's counts (its row of the accounts table), chart, failures and
    engine health."""
    now = process.now()
    with store.reading() as session:
        groups = overview.reason_groups(session=session, account_id=account_id)
        engine = overview.engine_health(session=session, now=now, account_id=account_id)
        summary = accounts.connection_summary(session=session, account_id=account_id)
        last_ok = overview.last_successful_call(session=session, account_id=account_id)

    timeline = chart_points(account_id, window)
    labels = list(reason_texts.STATUS_LABELS.items())
    for start in range(0, len(labels), STATUS_ROW):
        row = labels[start : start + STATUS_ROW]
        for column, (status, label) in zip(st.columns(STATUS_ROW), row, strict=False):
            column.metric(label, count(counts.get(status, 0)))

    st.markdown("**Syncs over time**")
    _, bucket = WINDOWS[window]
    if charts.has_activity(timeline):
        st.altair_chart(
            charts.sync_chart(timeline, bucket, zone=st.context.timezone),
            width="stretch",
            height=charts.HEIGHT,
        )
    else:
        st.caption(f"Nothing synced or failed in the {window.split(' (')[0].lower()}.")
    st.markdown("**Failures by reason**")
    if groups:
        failures = tables.frame(
            [
                {
                    "Status": tables.status_pill(group.status),
                    "Reason": group.message,
                    "Contacts": group.count,
                    "Action": group.action or "—",
                }
                for group in groups
            ],
            ["Status", "Reason", "Contacts", "Action"],
        )
        st.dataframe(
            failures,
            hide_index=True,
            row_height=tables.row_height(failures.to_dict("records"), FAILURE_WIDTHS),
            column_config={
                "Status": tables.status_column(width=FAILURE_WIDTHS["Status"]),
                "Reason": st.column_config.TextColumn(width=FAILURE_WIDTHS["Reason"]),
                "Contacts": count_column(),
                "Action": st.column_config.TextColumn(width=FAILURE_WIDTHS["Action"]),
            },
        )
    else:
        st.success("No contact is failed or retrying now.", icon=":material/check_circle:")

    st.markdown("**Engine**")
    a, b, c, d = st.columns(4)
    last = engine.last_run
    a.metric(
        "Last engine pass",
        times.relative(last.started_at, at=now) if last else "never",
        help=f"{wording.trigger_words(last.trigger)}: {wording.run_counts_words(last.counts)}."
        if last
        else None,
    )
    b.metric("Scheduler heartbeat", times.relative(engine.last_heartbeat_at, at=now))
    c.metric(
        "Contacts waiting to sync",
        count(engine.queued),
        help=f"{wording.plural(engine.due_now, 'contact')} due now; the others wait for a retry.",
    )
    d.metric(
        "Last successful Clockwork call",
        times.relative(last_ok, at=now) if summary else "never connected",
    )
    with store.reading() as session:  # whether what we say we synced is really there
        verified = verify_views.last_verified_at(session=session, account_id=account_id)
        drifted = verify_views.count_drifted(session=session, account_id=account_id)
    st.caption(
        f"Last verified against Clockwork: {times.relative(verified, at=now) if verified else 'never'}"
        + (f"; {wording.plural(drifted, 'contact')} drifted (see Verify)." if drifted else ".")
    )
    if engine.last_problem is not None:
        problem = engine.last_problem
        st.warning(
            f"{wording.trigger_words(problem.trigger)} "
            f"({times.relative(problem.started_at, at=now)}): the engineers have the details below.",
            icon=":material/warning:",
        )
        with st.expander("Technical details", icon=":material/code:"):
            st.text(f"{problem.trigger}: {problem.error or 'no detail'}")


def render_live(account_id: int | None) -> None:
    """Every account, then the selected one, refreshed live. One query of the accounts' counts
    serves both (a second would cost as much again on every refresh)."""
    with store.reading() as session:
        rows = overview.account_overview(session=session)
    render_accounts(rows)
    selected = next((row for row in rows if row.account_id == account_id), None)
    if selected is None:
        return
    st.divider()
    header, picker = st.columns([3, 1])
    header.subheader(plain(selected.name))
    window = picker.selectbox(
        "Chart", list(WINDOWS), key="overview_window", label_visibility="collapsed"
    )
    render_account(selected.account_id, window, selected.counts)


st.title("Overview")
st.caption("Is each customer's Clockwork sync healthy — and if not, which contacts and why?")
account_id = sidebar.select_account()
st.fragment(render_live, run_every=f"{process.settings().refresh_seconds:g}s")(account_id)

"""Overview: which accounts need attention, and how the selected account's sync is doing, live."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import context
from dashboard.plain_text import plain
from sync_engine.services import accounts, views

WINDOWS = {
    "Last hour (per minute)": (timedelta(hours=1), 60),
    "Last 24 hours (per hour)": (timedelta(hours=24), 3600),
    "Last 7 days (per day)": (timedelta(days=7), 86400),
}


def accounts_table(rows: list[views.AccountHealth]) -> pd.DataFrame:
    """The cross-account table (B10): attention first, then the counts that explain it."""
    return context.frame(
        [
            {
                "Account": row.name,
                "Needs attention": ", ".join(row.problems) or "—",
                "Connection": row.connection.replace("_", " ").capitalize(),
                "Failed": row.counts.get("failed", 0),
                "Retrying": row.counts.get("retrying", 0),
                "Queued": row.counts.get("queued", 0) + row.counts.get("syncing", 0),
                "Awaiting reply": row.counts.get("awaiting_reply", 0),
                "Synced": row.counts.get("synced", 0),
                "Exists in Clockwork": row.exists_in_clockwork,
                "Last successful call": context.ago(row.last_success_at),
            }
            for row in rows
        ],
        [
            "Account", "Needs attention", "Connection", "Failed", "Retrying", "Queued",
            "Awaiting reply", "Synced", "Exists in Clockwork", "Last successful call",
        ],
    )  # fmt: skip


CHART_TTL = 30  # seconds: the chart scans the account's syncs, the live counts do not


@st.cache_data(ttl=CHART_TTL, show_spinner=False)
def chart_points(account_id: int, window: str) -> list[views.TimelinePoint]:
    """The chart's buckets, recomputed at most every ``CHART_TTL`` seconds."""
    span, bucket = WINDOWS[window]
    now = context.now()
    with context.reading() as session:
        return views.sync_timeline(
            session=session, account_id=account_id, since=now - span, now=now, bucket_seconds=bucket
        )


def render_accounts() -> None:
    """The cross-account table, refreshed live."""
    with context.reading() as session:
        rows = views.account_overview(session=session)
    attention = [row for row in rows if row.needs_attention]
    st.subheader("All accounts")
    if not rows:
        st.info("No accounts yet. Create one on the **Integrations** page.")
        return
    if attention:
        st.caption(f"{len(attention)} of {len(rows)} accounts need attention.")
    else:
        st.caption(f"All {len(rows)} accounts are healthy.")
    st.dataframe(
        accounts_table(rows),
        hide_index=True,
        column_config={
            "Needs attention": st.column_config.TextColumn(width="medium"),
            "Exists in Clockwork": st.column_config.NumberColumn(
                help="Contacts a recruiter had already entered in Clockwork (linked, not duplicated)"
            ),
        },
    )


def render_account(account_id: int, window: str) -> None:
    """The selected account's counts, chart, failures and engine health, refreshed live."""
    now = context.now()
    with context.reading() as session:
        counts = views.status_counts(session=session, account_id=account_id)
        groups = views.reason_groups(session=session, account_id=account_id)
        engine = views.engine_health(session=session, now=now, account_id=account_id)
        summary = accounts.connection_summary(session=session, account_id=account_id)
        last_ok = views.last_successful_call(session=session, account_id=account_id)

    timeline = chart_points(account_id, window)
    columns = st.columns(len(views.STATUS_LABELS))
    for column, (status, label) in zip(columns, views.STATUS_LABELS.items(), strict=True):
        column.metric(label, f"{counts.get(status, 0):,}")

    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**Syncs over time**")
        chart = pd.DataFrame(
            {
                "time": [point.at for point in timeline],
                "Synced": [point.synced for point in timeline],
                "Failed or retried": [point.failed for point in timeline],
            }
        ).set_index("time")
        st.bar_chart(chart, height=240, color=["#2f9e6e", "#d9534f"], stack=False)
    with right:
        st.markdown("**Failures by reason**")
        if groups:
            st.dataframe(
                context.frame(
                    [
                        {
                            "Status": views.STATUS_LABELS.get(group.status, group.status),
                            "Reason": group.message,
                            "Contacts": group.count,
                            "Action": group.action or "—",
                        }
                        for group in groups
                    ],
                    ["Status", "Reason", "Contacts", "Action"],
                ),
                hide_index=True,
            )
        else:
            st.success("No failed or retrying contacts.", icon=":material/check_circle:")

    st.markdown("**Engine**")
    a, b, c, d = st.columns(4)
    last = engine.last_run
    a.metric(
        "Last engine pass",
        context.ago(last.started_at, at=now) if last else "never",
        help=f"trigger: {last.trigger}, counts: {last.counts}" if last else None,
    )
    b.metric("Scheduler heartbeat", context.ago(engine.last_heartbeat_at, at=now))
    c.metric("Queue (this account)", f"{engine.queued:,}", help=f"{engine.due_now:,} due now")
    d.metric(
        "Last successful Clockwork call",
        context.ago(last_ok, at=now) if summary else "never connected",
    )
    if engine.last_problem is not None:
        problem = engine.last_problem
        st.warning(
            f"Last scheduler problem ({context.ago(problem.started_at, at=now)}, "
            f"{plain(problem.trigger)}): {plain(problem.error or 'no detail')}",
            icon=":material/warning:",
        )


st.title("Overview")
st.caption("Is each customer's Clockwork sync healthy — and if not, which contacts and why?")
account_id = context.select_account()
refresh = f"{context.settings().refresh_seconds:g}s"
st.fragment(render_accounts, run_every=refresh)()
if account_id is not None:
    with context.reading() as session:
        name = views.account_names(session=session).get(account_id, "")
    st.divider()
    header, picker = st.columns([3, 1])
    header.subheader(plain(name))
    window = picker.selectbox(
        "Chart", list(WINDOWS), key="overview_window", label_visibility="collapsed"
    )
    st.fragment(render_account, run_every=refresh)(account_id, window)

"""Sync log: errors grouped by reason with the action to take, engine runs, and Clockwork calls."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from dashboard import process, sidebar, store, tables, times
from sync_engine.services import wording
from sync_engine.services.queries import csv_export, logs, overview


def errors_tab(account_id: int) -> None:
    """Problems grouped by reason with counts and the action to take (B6)."""
    with store.reading() as session:
        groups = overview.reason_groups(
            session=session,
            account_id=account_id,
            statuses=("failed", "retrying", "skipped"),
        )
    if not groups:
        st.success("Nothing failed, retried or skipped.", icon=":material/check_circle:")
        return
    st.dataframe(
        tables.frame(
            [
                {
                    "Status": tables.status_pill(group.status),
                    "Reason": group.message,
                    "Contacts": group.count,
                    "What to do": group.action or "Nothing: expected by the settings",
                }
                for group in groups
            ],
            ["Status", "Reason", "Contacts", "What to do"],
        ),
        hide_index=True,
        column_config={
            "Status": tables.status_column(width=110),
            "Reason": st.column_config.TextColumn(width="large"),
        },
    )
    st.caption("Filter the Contacts page by reason to see, retry or dismiss the contacts.")
    with st.expander("Technical details", icon=":material/code:"):
        st.caption(
            "The reason codes, as the store, the CLI and the CSV export's Reason code hold them."
        )
        st.dataframe(
            tables.frame(
                [
                    {
                        "Reason": group.message,
                        "Status code": group.status,
                        "Reason code": group.reason or "",
                    }
                    for group in groups
                ],
                ["Reason", "Status code", "Reason code"],
            ),
            hide_index=True,
        )


def runs_tab() -> None:
    """Engine passes and scheduler events (B7)."""
    show_idle = st.toggle("Show idle passes", value=False, key="log_idle")
    with store.reading() as session:
        runs = logs.list_engine_runs(session=session, limit=100, include_idle=show_idle)
    st.dataframe(
        tables.frame(
            [
                {
                    "Started": times.timestamp(run.started_at),
                    "Trigger": wording.trigger_words(run.trigger),
                    "Duration (s)": round((run.finished_at - run.started_at).total_seconds(), 2)
                    if run.finished_at
                    else None,
                    "Counts": wording.run_counts_words(run.counts),
                    "Error": "Stopped with an error (see Technical details)" if run.error else "",
                }
                for run in runs
            ],
            ["Started", "Trigger", "Duration (s)", "Counts", "Error"],
        ),
        hide_index=True,
        column_config={"Counts": st.column_config.TextColumn(width="large")},
    )
    with st.expander("Technical details", icon=":material/code:"):
        st.dataframe(
            tables.frame(
                [
                    {
                        "Started (UTC)": csv_export.iso_utc(run.started_at),
                        "Trigger": run.trigger,
                        "Worker": run.worker,
                        "Counts": ", ".join(f"{k}={v}" for k, v in sorted(run.counts.items())),
                        "Error": run.error or "",
                    }
                    for run in runs
                ],
                ["Started (UTC)", "Trigger", "Worker", "Counts", "Error"],
            ),
            hide_index=True,
            column_config={"Error": st.column_config.TextColumn(width="large")},
        )


def calls_tab(account_id: int) -> None:
    """Recent Clockwork requests with status and latency (B7)."""
    now = process.now()
    with store.reading() as session:
        stats = logs.api_call_stats(
            session=session, account_id=account_id, since=now - timedelta(hours=1)
        )
    a, b, c, d = st.columns(4)
    a.metric("Calls (last hour)", f"{stats.calls:,}")
    b.metric("Errors", f"{stats.errors:,}")
    c.metric("Asked to slow down", f"{stats.rate_limited:,}", help="Answers 429: Too Many Requests")
    d.metric(
        "Mean latency",
        f"{stats.median_latency_ms:.0f} ms" if stats.median_latency_ms is not None else "—",
    )
    errors_only = st.toggle("Errors only", key="log_errors_only")
    with store.reading() as session:
        calls = logs.list_api_calls(
            session=session, account_id=account_id, errors_only=errors_only, limit=200
        )
    st.dataframe(
        tables.frame(
            [
                {
                    "At": times.timestamp(call.at),
                    "Request": wording.request_words(call.method, call.path),
                    "Answer": wording.answer_words(call.status),
                    "Latency (ms)": round(call.latency_ms),
                    "Clockwork said": call.error or "",
                }
                for call in calls
            ],
            ["At", "Request", "Answer", "Latency (ms)", "Clockwork said"],
        ),
        hide_index=True,
        column_config={"Clockwork said": st.column_config.TextColumn(width="large")},
    )
    with st.expander("Technical details", icon=":material/code:"):
        st.caption(
            "Paths keep their placeholders; ids, query values and credentials are never logged."
        )
        st.dataframe(
            tables.frame(
                [
                    {
                        "At (UTC)": csv_export.iso_utc(call.at),
                        "Method": call.method,
                        "Path": call.path,
                        "HTTP status": call.status,
                        "Error": call.error or "",
                    }
                    for call in calls
                ],
                ["At (UTC)", "Method", "Path", "HTTP status", "Error"],
            ),
            hide_index=True,
            column_config={"HTTP status": st.column_config.NumberColumn(format="%d")},
        )


def render() -> None:
    """Draw the Sync log page."""
    st.title("Sync log")
    st.caption("What the engine did, what Clockwork answered, and what needs a person.")
    account_id = sidebar.select_account()
    errors, runs, calls = st.tabs(["Errors by reason", "Run history", "API calls"])
    if account_id is not None:
        with errors:
            errors_tab(account_id)
        with calls:
            calls_tab(account_id)
    with runs:
        runs_tab()


render()

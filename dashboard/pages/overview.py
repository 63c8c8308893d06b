"""Overview: which accounts need attention, and the selected account's sync health, live."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import context
from sync_engine.services import views

st.title("Overview")
st.caption("Is each customer's Clockwork sync healthy? Accounts needing attention come first.")


@st.fragment(run_every="5s")
def accounts_at_a_glance() -> None:
    with context.reading() as session:
        rows = views.account_overview(session=session)
    if not rows:
        st.info("No accounts yet.")
        return
    table = pd.DataFrame(
        [
            {
                "Account": row.name,
                "Attention": ", ".join(row.problems) or "Healthy",
                "Connection": row.connection.replace("_", " "),
                "Failed": row.counts.get("failed", 0),
                "Retrying": row.counts.get("retrying", 0),
                "Queued": row.counts.get("queued", 0) + row.counts.get("syncing", 0),
                "Awaiting reply": row.counts.get("awaiting_reply", 0),
                "Synced": row.counts.get("synced", 0),
                "Exists in Clockwork": row.exists_in_clockwork,
                "Last successful call": context.ago(row.last_success_at),
            }
            for row in rows
        ]
    )
    st.dataframe(table, hide_index=True)


accounts_at_a_glance()
account_id = context.select_account()
if account_id is not None:
    with context.reading() as session:
        counts = views.status_counts(session=session, account_id=account_id)
    columns = st.columns(len(views.STATUS_LABELS))
    for column, (status, label) in zip(columns, views.STATUS_LABELS.items(), strict=True):
        column.metric(label, counts.get(status, 0))

"""Verify: is what we say we synced really in Clockwork? Start a check, watch it, see what drifted,
and repair it after a preview."""

from __future__ import annotations

import streamlit as st

from dashboard import identity, pager, process, sidebar, store, tables, times, widgets
from dashboard.plain_text import plain
from sync_engine.services import accounts
from sync_engine.services.errors import ServiceError
from sync_engine.verify import repair as repairs
from sync_engine.verify import views as verify_views
from sync_engine.verify.models import VerifyState
from sync_engine.verify.runs import VerifyError, request_verification

ALL_SEQUENCES = 0
STATE_WORDS = {
    VerifyState.QUEUED: "Waiting for the engine",
    VerifyState.RUNNING: "Checking",
    VerifyState.DONE: "Finished",
    VerifyState.FAILED: "Stopped",
}


def start_verification(account_id: int, sequence_id: int | None, sample: int | None) -> bool:
    """Queue a verification (admins only); the engine works it in the background."""
    actor = identity.require_admin("verify against Clockwork")
    try:
        request_verification(
            process.runtime(), account_id=account_id, sequence_id=sequence_id, sample=sample,
            actor=actor,
        )  # fmt: skip
    except (VerifyError, ServiceError) as exc:
        widgets.show_error(exc)
        return False
    widgets.flash("Verification started: it runs beside syncing, at most part of the budget.")
    return True


def apply_repair(account_id: int) -> bool:
    """Queue the repair of every drifted contact (admins only)."""
    actor = identity.require_admin("repair drift")
    with store.writing() as session:
        queued = repairs.apply_repair(session=session, account_id=account_id, actor=actor)
    widgets.flash(f"{queued} contacts queued for repair; the next sync carries it out.")
    return True


def progress(account_id: int) -> None:
    """The newest verification of the account, refreshed while it runs, then its findings. The
    refresh that sees the run end draws them itself: a rerun of the whole page asked for on that
    timer could undo a sidebar link clicked meanwhile (the later run's start picks the page)."""
    with store.reading() as session:
        run = verify_views.latest_run(session=session, account_id=account_id)
    if run is None:  # never verified: nothing has drifted, nor been checked
        st.info("This account has not been verified yet.", icon=":material/info:")
        return
    state = VerifyState(run.state)
    done = run.checked / run.total if run.total else 1.0
    st.progress(
        min(done, 1.0),
        text=f"{STATE_WORDS[state]}: {run.checked:,} of {run.total:,} contacts checked, "
        f"{run.drifted:,} drifted",
    )
    if state == VerifyState.DONE:
        st.caption(f"Finished {times.relative(run.finished_at)}; nothing was changed in Clockwork.")
    if state == VerifyState.FAILED:
        st.warning(f"The verification stopped: {plain(run.error or 'no reason')}")
    with st.expander("Technical details"):
        average = run.reads / run.checked if run.checked else 0.0
        st.text(
            f"run {run.id}, requested by {run.requested_by}; {run.reads:,} reads "
            f"({average:.2f} per contact)"
        )
    findings(account_id)  # the page's next run stops the refresh once the run has ended


def findings(account_id: int) -> None:
    """The drifted contacts and, for admins, the repair preview and button."""
    with store.reading() as session:
        total = verify_views.count_drifted(session=session, account_id=account_id)
    st.subheader("Drifted contacts")
    if not total:
        st.caption("No contact has drifted from Clockwork in the last verification.")
        return
    limit, offset = pager.pager(total, key="verify_page")
    with store.reading() as session:
        rows = verify_views.drifted(
            session=session, account_id=account_id, limit=limit, offset=offset
        )
    st.dataframe(
        tables.frame(
            [
                {
                    "Contact": row.email,
                    "What is wrong": row.reason,
                    "Checked": times.timestamp(row.checked_at),
                }
                for row in rows
            ],
            ["Contact", "What is wrong", "Checked"],
        ),
        hide_index=True,
    )
    if not identity.is_admin():
        return
    # The preview is shown, not folded away: a click on the button while a folded preview was
    # still opening was lost (the e2e test clicked both in a row, and failed under load).
    st.subheader("Repair")
    with store.reading() as session:
        steps = repairs.preview_repair(session=session, account_id=account_id)
    st.caption("What the repair will do; the next sync carries it out.")
    st.dataframe(
        tables.frame(
            [{"Contact": s.email, "What the repair does": "; ".join(s.actions)} for s in steps],
            ["Contact", "What the repair does"],
        ),
        hide_index=True,
    )
    if st.button("Repair these contacts", type="primary") and apply_repair(account_id):
        st.rerun(scope="app")  # the user's own click: the page shows the queued repair


def render() -> None:
    """Draw the Verify page."""
    st.title("Verify against Clockwork")
    st.caption(
        "Checks that each synced contact is really in Clockwork: the person, their email, the "
        "project and the email notes. Verifying changes nothing in Clockwork."
    )
    account_id = sidebar.select_account()
    if account_id is None:
        return
    if identity.is_admin():
        with store.reading() as session:
            sequences = {
                s.id: s.name
                for s in accounts.list_sequences(session=session, account_id=account_id)
            }
        left, middle, right = st.columns([2, 1, 1])
        sequence = left.selectbox(
            "Sequence", [ALL_SEQUENCES, *sequences],
            format_func=lambda i: "All sequences" if i == ALL_SEQUENCES else sequences[i],
        )  # fmt: skip
        sample = middle.number_input("Check about (0 = all)", min_value=0, value=0, step=100)
        right.write("")
        if right.button("Verify now") and start_verification(
            account_id, sequence or None, int(sample) or None
        ):
            st.rerun()
    with store.reading() as session:
        latest = verify_views.latest_run(session=session, account_id=account_id)
    working = latest is not None and latest.state in (VerifyState.QUEUED, VerifyState.RUNNING)
    # Refreshed only while a run works: at rest the page has nothing to poll for.
    refresh = f"{process.settings().refresh_seconds:g}s" if working else None
    st.fragment(progress, run_every=refresh)(account_id)


render()

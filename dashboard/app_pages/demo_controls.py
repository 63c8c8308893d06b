"""Demo controls (demo mode only): add contacts, record email events, break and heal Clockwork.

Every action is a :class:`sync_engine.demo.DemoControls` call: contacts and events go through
the demo's ingest API (the real path), faults through the embedded simulator's admin API, so
retries, backoff and recovery show up live.
"""

from __future__ import annotations

import streamlit as st

from dashboard import (
    demo_mode,
    identity,
    ingest_panel,
    process,
    scheduler,
    sidebar,
    store,
    theme,
    widgets,
)
from dashboard.plain_text import plain
from dashboard.widgets import show_error
from sync_engine.demo import DemoControls, FaultConfig
from sync_engine.domain import ActivityKind
from sync_engine.services import accounts, wording
from sync_engine.services.errors import ServiceError
from sync_engine.services.queries import contact_table


def controls(base_url: str) -> DemoControls:
    """The demo's actions over this process's store, the simulator at ``base_url`` and, in demo
    mode, the demo's ingest API; changes are audited under the acting user."""
    return DemoControls(
        process.runtime(), base_url, ingest=ingest_panel.demo_ingest(), actor=identity.actor()
    )


def add_contacts(account_id: int, base_url: str) -> None:
    """Add one contact (optionally already in Clockwork) or a few made-up ones."""
    st.subheader("Add contacts")
    with store.reading() as session:
        sequences = {
            s.id: s.name for s in accounts.list_sequences(session=session, account_id=account_id)
        }
    if not sequences:
        st.info("This account has no sequences: add one on the Sequences page.")
        return
    added = st.session_state.get("demo_added")
    if added:
        with st.container(horizontal=True, vertical_alignment="center"):
            into = sequences.get(added.get("sequence_id"), "")
            st.success(f"Added {plain(added['email'])} to the sequence {plain(into)}.")
            st.page_link(
                "app_pages/contacts.py",
                label="Open in Contacts",
                icon=":material/open_in_new:",
                query_params={"enrollment": str(added["id"])},
            )
    sequence_id = st.selectbox(
        "Sequence", list(sequences), format_func=sequences.get, key="demo_sequence"
    )
    with st.form("demo_add_contact", clear_on_submit=True):
        email = st.text_input("Email", max_chars=320)
        left, right = st.columns(2)
        first = left.text_input("First name", max_chars=200)
        last = right.text_input("Last name", max_chars=200)
        title = left.text_input("Title", max_chars=300)
        company = right.text_input("Company", max_chars=300)
        exists = st.checkbox(
            "A recruiter already entered this person in Clockwork",
            help="Creates the person in the demo Clockwork first, so the contact is flagged "
            "Exists in Clockwork and linked instead of created.",
        )
        submitted = st.form_submit_button("Add to sequence", type="primary")
    if submitted:
        fields = {
            "email": email, "first_name": first, "last_name": last, "title": title,
            "company": company,
        }  # fmt: skip
        if add_contact(account_id, sequence_id, fields, exists=exists, base_url=base_url):
            st.rerun()
    if st.button("Add 5 made-up contacts", icon=":material/group_add:"):
        add_made_up_contacts(sequence_id, account_id=account_id, base_url=base_url)
        st.rerun()


def add_contact(
    account_id: int, sequence_id: int, fields: dict[str, str], *, exists: bool, base_url: str
) -> bool:
    """Add one contact to the sequence, first putting the person in the demo Clockwork when
    ``exists`` (admins only); False with the reason on screen."""
    identity.require_admin("add demo contacts")
    try:
        added = controls(base_url).add_contact(
            account_id=account_id, sequence_id=sequence_id, fields=fields, exists=exists
        )
    except ServiceError as exc:
        show_error(exc)
        return False
    st.session_state["demo_added"] = {
        "email": added.email,
        "id": added.enrollment_id,
        "sequence_id": sequence_id,
    }
    return True


def add_made_up_contacts(
    sequence_id: int, *, account_id: int, base_url: str, count: int = 5
) -> None:
    """Add ``count`` made-up contacts to the sequence (admins only)."""
    identity.require_admin("add demo contacts")
    try:
        added = controls(base_url).add_made_up_contacts(
            account_id=account_id, sequence_id=sequence_id, count=count
        )
    except ServiceError as exc:
        show_error(exc)
        return
    widgets.flash(f"Added {wording.plural(added, 'contact')}.")


def record_events(account_id: int, base_url: str) -> None:
    """Record an email event (a reply is the second sync trigger)."""
    st.subheader("Record email events")
    with store.reading() as session:
        rows = contact_table.list_enrollments(
            session=session, where=contact_table.EnrollmentFilter(account_id=account_id), limit=200
        )
    if not rows:
        st.caption("No contacts yet.")
        return
    by_id = {row.enrollment_id: row for row in rows}
    with st.form("demo_event"):
        enrollment_id = st.selectbox(
            "Contact",
            list(by_id),
            format_func=lambda i: (
                f"{by_id[i].email} · {by_id[i].sequence} ({by_id[i].status_label})"
            ),
        )
        left, right = st.columns([1, 2])
        kind = left.selectbox(
            "Event", [k.value for k in ActivityKind], index=3, format_func=str.capitalize
        )
        subject = right.text_input("Subject", value="Re: a quick question", max_chars=500)
        submitted = st.form_submit_button("Record event", type="primary")
    who = by_id[enrollment_id].email
    if submitted and record_email_event(
        enrollment_id, ActivityKind(kind), subject, base_url=base_url, who=who
    ):
        st.rerun()


def record_email_event(
    enrollment_id: int, kind: ActivityKind, subject: str, *, base_url: str, who: str = "the contact"
) -> bool:
    """Record an email event of the enrollment now (admins only); False with the reason."""
    identity.require_admin("record email events")
    try:
        controls(base_url).record_event(enrollment_id=enrollment_id, kind=kind, subject=subject)
    except ServiceError as exc:
        show_error(exc)
        return False
    widgets.flash(f"Recorded {kind.value} for {plain(who)}.")
    return True


def fault_summary(config: FaultConfig) -> str:
    """The faults of ``config`` in a few words."""
    parts = []
    if config.error_rate:
        parts.append(f"{config.error_rate:.0%} server errors")
    if config.drop_rate:
        parts.append(f"{config.drop_rate:.0%} dropped connections")
    if config.rate_limit_rps is not None:
        parts.append(f"too busy above {config.rate_limit_rps:g} requests per second")
    parts.append(f"{config.latency_ms:g} ms latency")
    return ", ".join(parts) if len(parts) > 1 else f"no faults ({parts[0]})"


def faults(account_id: int, base_url: str) -> None:
    """Inject or clear simulator faults and revoke or restore the account's key."""
    st.subheader("Clockwork faults")
    st.caption(
        "Break the demo Clockwork and watch the engine back off, retry and recover "
        "(Overview, Contacts and Sync log)."
    )
    try:
        current = controls(base_url).faults()
    except ServiceError as exc:
        show_error(exc)
        return
    st.markdown(f"**In force:** {fault_summary(current)}")
    with st.form("demo_faults"):
        latency = st.slider("Added latency (ms)", 0, 3000, int(current.latency_ms), step=50)
        limit_on = st.toggle(
            'Rate limit (Clockwork answers "too busy" above a rate)',
            value=current.rate_limit_rps is not None,
        )
        rps = st.slider(
            "Requests per second before Clockwork is too busy",
            1,
            20,
            int(current.rate_limit_rps or 5),
        )
        errors = st.slider("Share of server errors", 0.0, 1.0, float(current.error_rate), 0.05)
        drops = st.slider("Share of dropped connections", 0.0, 0.5, float(current.drop_rate), 0.05)
        apply = st.form_submit_button("Apply faults", type="primary")
    if apply:
        try:
            config = FaultConfig(
                latency_ms=latency,
                rate_limit_rps=float(rps) if limit_on else None,
                error_rate=errors,
                drop_rate=drops,
            )
        except ValueError as exc:
            show_error(exc)
            return
        change_faults(base_url, config)
        st.rerun()
    buttons = st.container(horizontal=True)
    if buttons.button("Clear all faults", icon=":material/healing:"):
        change_faults(base_url, None)
        st.rerun()
    if buttons.button(
        "Revoke this account's API key", icon=":material/key_off:"
    ) and set_key_revoked(account_id, base_url, revoked=True):
        st.rerun()
    if buttons.button("Restore the key and reconnect", icon=":material/key:") and set_key_revoked(
        account_id, base_url, revoked=False
    ):
        st.rerun()


def change_faults(base_url: str, config: FaultConfig | None) -> None:
    """Put ``config`` in force in the demo Clockwork, or clear every fault when None (admins
    only)."""
    identity.require_admin("inject faults" if config else "clear faults")
    try:
        controls(base_url).set_faults(config)
    except ServiceError as exc:
        show_error(exc)
        return
    widgets.flash("Faults applied." if config else "Faults cleared.")


def set_key_revoked(account_id: int, base_url: str, *, revoked: bool) -> bool:
    """Revoke the account's API key in the demo Clockwork, or restore it and reconnect (admins
    only); False with the reason on screen."""
    identity.require_admin("revoke keys" if revoked else "restore keys")
    try:
        controls(base_url).set_key_revoked(account_id=account_id, revoked=revoked)
    except ServiceError as exc:
        show_error(exc)
        return False
    widgets.flash(
        "Key revoked: the next sync is rejected and the account needs attention."
        if revoked
        else "Key restored and reconnected: queued work resumes."
    )
    return True


def engine_and_reset(base_url: str) -> None:
    """Run a pass now, or wipe and reseed the demo."""
    st.subheader("Engine and demo data")
    buttons = st.container(horizontal=True)
    if buttons.button("Run a sync pass now", icon=":material/sync:") and run_pass_now():
        st.rerun()
    with buttons.popover("Reset the demo", icon=":material/restart_alt:"):
        st.write("Delete every account, contact and log entry and seed the demo again?")
        if st.button("Yes, reset", type="primary"):
            reset_demo(base_url)
            st.rerun()


def run_pass_now() -> bool:
    """Run one engine pass in this process now (admins only); False when no engine runs here."""
    identity.require_admin("run a sync pass")
    counts = scheduler.run_pass_now()
    if counts is None:
        st.error("The sync engine is not running in this process.")
        return False
    widgets.flash(f"Sync pass: {wording.run_counts_words(counts)}.")
    return True


def reset_demo(base_url: str) -> None:
    """Clear the simulator's faults, wipe the demo store and seed it again (admins only)."""
    identity.require_admin("reset the demo")
    try:
        controls(base_url).reset()
    except ServiceError as exc:
        show_error(exc)
        return
    st.cache_data.clear()
    sidebar.forget_account()
    widgets.flash("Demo reset.")


def render() -> None:
    """Draw the Demo controls page (demo mode, where the demo user is an admin)."""
    theme.narrow()  # a form page: at a reading width
    st.title("Demo controls")
    identity.require_admin("use the demo controls")
    environment = demo_mode.demo()
    if environment is None:
        st.info("Demo controls are only available in demo mode (CWSYNC_DEMO=true).")
        return
    st.caption(
        f"Embedded Clockwork simulator at {environment.simulator.base_url}. "
        "Everything here goes through the same services as real use."
    )
    base_url = environment.simulator.base_url
    account_id = sidebar.select_account()
    if account_id is not None:
        add_contacts(account_id, base_url)
        st.divider()
        record_events(account_id, base_url)
        st.divider()
        faults(account_id, base_url)
        st.divider()
    engine_and_reset(base_url)


if __name__ == "__main__":  # run as a page; imported, it only defines its actions
    render()

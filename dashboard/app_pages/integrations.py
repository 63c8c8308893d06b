"""Integrations: connect a customer's Clockwork firm, test it, pause or resume, disconnect.

Secrets are typed into password fields inside a form that clears itself on submit; once stored
(encrypted) they are never sent back to the browser, only a masked hint of the API key.
"""

from __future__ import annotations

import streamlit as st

from dashboard import (
    demo_mode,
    identity,
    ingest_panel,
    process,
    sidebar,
    store,
    theme,
    times,
    widgets,
)
from dashboard.plain_text import plain
from dashboard.widgets import show_error
from sync_engine import demo as demo_data
from sync_engine.domain import CLOCKWORK_API_URL, ConnectionState
from sync_engine.services import accounts
from sync_engine.services.errors import ServiceError
from sync_engine.services.queries import overview

STATE_WORDS = {
    ConnectionState.CONNECTED: (":green[●] Connected", None),
    ConnectionState.NEEDS_ATTENTION: (
        ":red[●] Needs attention",
        "Clockwork rejected the stored credentials. Syncing for this account is paused and "
        "queued work is kept: reconnect with valid keys below and it resumes.",
    ),
    ConnectionState.DISCONNECTED: (":gray[●] Disconnected", None),
}


def new_account() -> None:
    """Create an account."""
    with (
        st.expander("New account", icon=":material/add:"),
        st.form("new_account", clear_on_submit=True, border=False),
    ):
        name = st.text_input("Account name", max_chars=200, placeholder="e.g. Acme Talent")
        submitted = st.form_submit_button("Create account")
    if submitted and create_account(name):
        st.rerun()


def create_account(name: str) -> bool:
    """Create an account and select it (admins only); False with the reason on screen."""
    actor = identity.require_admin("create accounts")
    try:
        with store.writing() as session:
            account = accounts.create_account(session=session, name=name, actor=actor)
    except ServiceError as exc:
        show_error(exc)
        return False
    assert account.id is not None  # the store gave it one
    sidebar.choose_account(account.id)
    widgets.flash(f"Account {plain(account.name)} created.")
    return True


def health(account_id: int) -> accounts.ConnectionSummary | None:
    """The connection's state, last successful call and the test, pause and disconnect actions."""
    with store.reading() as session:
        summary = accounts.connection_summary(session=session, account_id=account_id)
        account = accounts.get_account(session=session, ref=account_id)
        last_ok = overview.last_successful_call(session=session, account_id=account_id)
    st.subheader("Connection health")
    if summary is None:
        st.info("Not connected to Clockwork yet. Connect a firm below.", icon=":material/link_off:")
        return None
    label, warning = STATE_WORDS[summary.state]
    with st.container(border=True):
        a, b, c, d = st.columns(4)
        a.markdown(f"**State**  \n{label}")
        b.markdown(f"**Firm**  \n{plain(summary.firm)}")
        c.markdown(f"**API key**  \n`{summary.api_key_hint}`")
        d.markdown(f"**Last successful call**  \n{times.relative(last_ok)}")
        if warning:
            st.error(warning, icon=":material/key_off:")
        with st.expander("Technical details", icon=":material/code:"):
            st.text(f"Base URL: {summary.base_url}")
            if summary.last_error:
                st.text(f"Last error from Clockwork: {summary.last_error}")
        if account.sync_paused:
            st.warning(
                "Syncing is paused for this account: nothing is sent to Clockwork, queued work "
                "waits.",
                icon=":material/pause_circle:",
            )
        buttons = st.container(horizontal=True)
        live = summary.state != ConnectionState.DISCONNECTED
        if buttons.button("Test connection", icon=":material/network_check:", disabled=not live):
            verify_credentials(account_id)
        pause_label = "Resume syncing" if account.sync_paused else "Pause syncing"
        if buttons.button(
            pause_label,
            icon=":material/pause:" if not account.sync_paused else ":material/play_arrow:",
        ):
            set_paused(account_id, paused=not account.sync_paused)
            st.rerun()
        if live:
            with buttons.popover("Disconnect", icon=":material/link_off:"):
                st.write(
                    "Forget the credentials and stop syncing this account? History is kept; "
                    "contacts added while disconnected are not synced."
                )
                if st.button("Yes, disconnect", type="primary"):
                    disconnect(account_id)
                    st.rerun()
    return summary


def verify_credentials(account_id: int) -> None:
    """Ask Clockwork whether it accepts the stored credentials (admins only) and say so."""
    identity.require_admin("test the connection")
    try:
        accounts.check_connection(process.runtime(), account_id=account_id)
    except ServiceError as exc:
        show_error(exc)
    else:
        st.success("Clockwork accepted the credentials.", icon=":material/check_circle:")


def set_paused(account_id: int, *, paused: bool) -> None:
    """Pause or resume syncing for the account (admins only)."""
    actor = identity.require_admin("pause or resume syncing")
    with store.writing() as session:
        accounts.set_sync_paused(
            session=session, account_id=account_id, paused=paused,
            actor=actor,
        )  # fmt: skip
    widgets.flash("Syncing paused." if paused else "Syncing resumed.")


def disconnect(account_id: int) -> None:
    """Forget the account's credentials (admins only); history and queued work are kept."""
    actor = identity.require_admin("disconnect Clockwork")
    with store.writing() as session:
        accounts.disconnect(session=session, account_id=account_id, actor=actor)
    widgets.flash("Disconnected from Clockwork.")


SECRET_FIELDS = ("api_key", "api_secret", "firm_service_key")


def connect_form(account_id: int, summary: accounts.ConnectionSummary | None) -> None:
    """Connect or update credentials (verified before they are stored).

    The secrets are emptied from the form as it is submitted; what else was typed stays, so a
    rejected connect can be corrected without typing the firm and base URL again.
    """
    reconnect = summary is not None and summary.state != ConnectionState.DISCONNECTED
    st.subheader("Update credentials" if reconnect else "Connect Clockwork")
    demo = demo_mode.demo()
    default_url = demo.simulator.base_url if demo else CLOCKWORK_API_URL
    if demo:
        hint = demo_data.demo_firm_hint(summary.firm if summary else None)
        st.caption(
            f"Demo: the embedded simulator knows firm `{hint.name}` with API key "
            f"`{hint.api_key}`, secret `{hint.api_secret}` and firm service key "
            f"`{hint.firm_service_key}`."
            + (" (The customer rotated the key this account still holds.)"
               if hint.rotated_from else "")
        )  # fmt: skip
    form = f"connect_{account_id}"
    # The secret fields are new widgets after every submit (their keys carry a count), so they
    # come back empty; Streamlit does not empty a field of a submitted form set from a callback.
    secrets = f"{form}_{st.session_state.get(f'{form}_submits', 0)}"
    with st.form(form, clear_on_submit=False):
        st.text_input(
            "Firm name",
            value=summary.firm if summary else "",
            max_chars=63,
            placeholder="acme",
            help="The subdomain you log in at: acme for acme.clockworkrecruiting.com",
            key=f"{form}_firm",
        )
        left, right = st.columns(2)
        left.text_input("API key", type="password", max_chars=300, key=f"{secrets}_api_key")
        right.text_input("API secret", type="password", max_chars=300, key=f"{secrets}_api_secret")
        st.text_input(
            "Firm service key", type="password", max_chars=300, key=f"{secrets}_firm_service_key"
        )
        with st.expander("Advanced"):
            st.text_input(
                "Base URL",
                value=summary.base_url if summary else default_url,
                max_chars=300,
                help="Clockwork's API (default) or a sandbox or simulator address.",
                key=f"{form}_base_url",
            )
        st.form_submit_button(
            "Save and test connection",
            type="primary",
            icon=":material/link:",
            on_click=_take_submission,
            args=(form, secrets),
        )
    fields = st.session_state.pop(f"{form}_submitted", None)
    if fields is not None and save_credentials(account_id, fields):
        st.rerun()


def _take_submission(form: str, secrets: str) -> None:
    """On submit, before the run: hand what was typed to this run (once) and retire the secret
    fields, so the next ones drawn are empty; the firm and base URL stay as typed."""
    typed = {name: st.session_state.get(f"{form}_{name}") for name in ("firm", "base_url")}
    typed |= {name: st.session_state.pop(f"{secrets}_{name}", None) for name in SECRET_FIELDS}
    st.session_state[f"{form}_submitted"] = {
        name: str(value or "") for name, value in typed.items()
    }
    st.session_state[f"{form}_submits"] = st.session_state.get(f"{form}_submits", 0) + 1


def save_credentials(account_id: int, fields: dict[str, str]) -> bool:
    """Check the credentials with Clockwork, then store them (admins only); False with the reason
    on screen when Clockwork or the input refuses them."""
    actor = identity.require_admin("change Clockwork credentials")
    host = process.settings().simulator_host
    base_url = fields.get("base_url", "")
    if demo_mode.demo() and (
        problem := demo_data.demo_connection_problem(base_url, simulator_host=host)
    ):
        st.error(plain(problem), icon=":material/gpp_bad:")
        return False
    try:
        with st.spinner("Checking the credentials with Clockwork…"):
            saved = accounts.connect(
                process.runtime(), account_id=account_id, fields=fields, actor=actor
            )
    except ServiceError as exc:
        show_error(exc)
        return False
    widgets.flash(f"Connected to {plain(saved.firm)} (API key {plain(saved.api_key_hint)}).")
    return True


def render() -> None:
    """Draw the Integrations page (admins only)."""
    theme.narrow()  # a form page: at a reading width
    st.title("Integrations")
    identity.require_admin("manage Clockwork connections")
    st.caption(
        "Connect each customer account to its Clockwork firm and keep the connection healthy."
    )
    new_account()
    account_id = sidebar.select_account()
    if account_id is None:
        return
    summary = health(account_id)
    connect_form(account_id, summary)
    st.divider()
    ingest_panel.render(account_id)  # the ingest API: endpoint, tokens, deliveries


if __name__ == "__main__":  # run as a page; imported, it only defines its actions
    render()

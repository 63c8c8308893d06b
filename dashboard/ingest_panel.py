"""The Integrations page's "Events from your outreach platform" section: where the ingest API
answers, the account's API tokens (created and revoked here, a new one shown once), its webhook
signing secret, and the last deliveries received, accepted or refused with the reason.

In demo mode the dashboard serves the ingest API itself on loopback (:func:`demo_ingest`) and
the Demo controls send their contacts and email events through it.
"""

from __future__ import annotations

import atexit
from typing import Any

import streamlit as st

from dashboard import demo_mode, identity, process, store, tables, times, widgets
from dashboard.plain_text import plain
from dashboard.widgets import show_error
from sync_engine.demo import DemoIngest
from sync_engine.ingest import credentials, delivery_log
from sync_engine.ingest.commands import DEFAULT_PORT
from sync_engine.ingest.models import DeliveryOutcome
from sync_engine.services.errors import ServiceError

NEW_TOKEN_KEY = "_ingest_new_token"
NEW_SECRET_KEY = "_ingest_new_secret"

OUTCOME_WORDS = {
    DeliveryOutcome.ACCEPTED: "Accepted",
    DeliveryOutcome.PARTIAL: "Partly accepted",
    DeliveryOutcome.REJECTED: "Refused",
}


@st.cache_resource(show_spinner="Starting the demo ingest API…")
def demo_ingest() -> DemoIngest | None:
    """In demo mode, the ingest API served by this process (one per process); else None."""
    if demo_mode.demo() is None:
        return None
    ingest = DemoIngest(process.runtime(), actor="demo controls")
    atexit.register(ingest.close)
    return ingest


def endpoint(account_id: int) -> str:
    """The account's ingest URL: the demo's own API, or where ``cwsync serve`` listens."""
    ingest = demo_ingest()
    base = ingest.base_url if ingest else f"http://127.0.0.1:{DEFAULT_PORT}"
    return f"{base}/v1/accounts/{account_id}"


def render(account_id: int) -> None:
    """Draw the section for one account (the page is for admins only)."""
    st.subheader("Events from your outreach platform")
    st.caption(
        "Point the outreach platform's webhooks at this address. Contacts and email events it "
        "sends are recorded here and synced to Clockwork by the sync engine."
    )
    st.code(endpoint(account_id), language=None)
    if demo_ingest() is None:
        st.caption('Served by `cwsync serve` on this machine (see the README, "Ingest API").')
    tokens(account_id)
    signing_secret(account_id)
    deliveries(account_id)


def tokens(account_id: int) -> None:
    """The account's tokens, a form to create one and a way to revoke one."""
    st.markdown("**Access tokens**")
    widgets.show_secret_once(
        NEW_TOKEN_KEY, what="token", use="The platform sends it as `Authorization: Bearer …`."
    )
    with store.reading() as session:
        rows = credentials.list_tokens(session=session, account_id=account_id)
    if rows:
        st.dataframe(
            tables.frame(
                [
                    {
                        "Name": row.name,
                        "Starts with": f"{row.hint}…",
                        "Created": times.timestamp(row.created_at),
                        "Last used": times.relative(row.last_used_at)
                        if row.last_used_at
                        else "Never",
                        "State": "Revoked" if row.revoked_at else "Active",
                    }
                    for row in rows
                ],
                ["Name", "Starts with", "Created", "Last used", "State"],
            ),
            hide_index=True,
        )
    else:
        st.caption("No tokens yet.")
    with st.form("ingest_new_token", clear_on_submit=True):
        name = st.text_input("Token name", max_chars=100, placeholder="e.g. Instantly webhooks")
        submitted = st.form_submit_button("Create token", icon=":material/add:")
    if submitted and create_token(account_id, name):
        st.rerun()
    active = {
        row.id: f"{row.name} ({row.hint}…)"
        for row in rows
        if row.revoked_at is None and row.id is not None
    }
    if active:
        with st.popover("Revoke a token", icon=":material/block:"):
            token_id = st.selectbox("Token", list(active), format_func=lambda i: active[i])
            st.caption("The platform's requests with it are refused from the next one on.")
            if st.button("Revoke", type="primary") and token_id is not None:
                revoke_token(account_id, int(token_id))
                st.rerun()


def create_token(account_id: int, name: str) -> bool:
    """Create a token (admins only) and keep it to show once; False with the reason."""
    actor = identity.require_admin("create API tokens")
    try:
        with store.writing() as session:
            made = credentials.create_token(
                session=session, account_id=account_id, name=name,
                actor=actor,
            )  # fmt: skip
    except ServiceError as exc:
        show_error(exc)
        return False
    widgets.hold_secret(NEW_TOKEN_KEY, made.token)
    return True


def revoke_token(account_id: int, token_id: int) -> None:
    """Revoke a token (admins only)."""
    actor = identity.require_admin("revoke API tokens")
    try:
        with store.writing() as session:
            row = credentials.revoke_token(
                session=session, account_id=account_id, token_id=token_id,
                actor=actor,
            )  # fmt: skip
    except ServiceError as exc:
        show_error(exc)
        return
    widgets.flash(f"Token {plain(row.name)} revoked.")


def signing_secret(account_id: int) -> None:
    """The signing secret's hint and a button to set a new one (shown once)."""
    st.markdown("**Webhook signing secret**")
    widgets.show_secret_once(
        NEW_SECRET_KEY,
        what="signing secret",
        use="Enter it in the platform's webhook settings (Standard Webhooks).",
    )
    with store.reading() as session:
        hint = credentials.signing_secret_hint(session=session, account_id=account_id)
    st.caption(
        f"Signed deliveries are checked with the secret starting {hint}"
        if hint
        else "No signing secret yet: platforms that sign their webhooks need one."
    )
    label = "Replace the signing secret" if hint else "Create a signing secret"
    if st.button(label, icon=":material/key:"):
        set_secret(account_id)
        st.rerun()


def set_secret(account_id: int) -> None:
    """Set a new signing secret (admins only) and keep it to show once."""
    actor = identity.require_admin("set the webhook signing secret")
    try:
        with store.writing() as session:
            secret = credentials.set_signing_secret(
                session=session, account_id=account_id, box=process.runtime().box,
                actor=actor,
            )  # fmt: skip
    except ServiceError as exc:
        show_error(exc)
        return
    widgets.hold_secret(NEW_SECRET_KEY, secret)


def delivery_rows(account_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The last deliveries in plain words, newest first."""
    with store.reading() as session:
        rows = delivery_log.recent_deliveries(session=session, account_id=account_id, limit=limit)
    return [
        {
            "Received": times.relative(row.received_at),
            "What": row.route,
            "Outcome": OUTCOME_WORDS.get(DeliveryOutcome(row.outcome), row.outcome),
            "Why": row.reason or "",
            "Items": row.items,
            "Status": row.status_code,
        }
        for row in rows
    ]


def deliveries(account_id: int) -> None:
    """The last deliveries received, accepted or refused with the reason."""
    st.markdown("**Last deliveries**")
    rows = delivery_rows(account_id)
    if not rows:
        st.caption("Nothing received yet.")
        return
    latest = rows[0]
    why = f": {latest['Why']}" if latest["Why"] else ""
    st.caption(
        f"Latest: {latest['Outcome']}, {plain(latest['What'])}, {latest['Received']}{plain(why)}"
    )
    st.dataframe(
        tables.frame(rows, ["Received", "What", "Outcome", "Why", "Items"]), hide_index=True
    )
    with st.expander("Technical details", icon=":material/code:"):
        st.dataframe(
            tables.frame(rows, ["Received", "What", "Status", "Outcome", "Why"]), hide_index=True
        )

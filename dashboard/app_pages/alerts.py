"""Alerts: what needs attention now, the alert log, and (admins) where alerts go and their rules."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import identity, pager, process, sidebar, store, tables, times, widgets
from dashboard.plain_text import plain
from sync_engine.alerts import destinations
from sync_engine.alerts.models import AlertRule, DeliveryState, DestinationKind
from sync_engine.services import wording
from sync_engine.services.errors import ServiceError

NEW_SECRET_KEY = "_alerts_new_secret"
LOG_COLUMNS = ["When", "What", "Alert", "Sent to", "Delivery"]
KIND_NAMES = {
    DestinationKind.WEBHOOK: "Webhook (JSON, signed)",
    DestinationKind.SLACK: "Slack (incoming webhook)",
    DestinationKind.EMAIL: "E-mail",
}
EVENT_NAMES = {"fired": "Alert", "resolved": "Resolved", "test": "Test"}


def _delivery(state: str, attempts: int) -> str:
    if state == DeliveryState.DELIVERED:
        return "Delivered"
    if state == DeliveryState.FAILED:
        return f"Gave up after {wording.plural(attempts, 'attempt')}"
    return f"Retrying ({wording.plural(attempts, 'attempt')} so far)" if attempts else "Sending"


def now_section(account_id: int) -> None:
    """The rules and whether each is raised now."""
    with store.reading() as session:
        rules = destinations.rules_of(
            session=session, account_id=account_id,
            sync_interval_seconds=process.settings().sync_interval_seconds,
        )  # fmt: skip
    firing = [rule for rule in rules if rule.firing]
    if firing:
        for rule in firing:
            st.error(
                f"**{plain(rule.label)}** since {times.relative(rule.since)}: {plain(rule.detail or '')}",
                icon=":material/notifications_active:",
            )
    else:
        st.success("Nothing needs attention right now.", icon=":material/check_circle:")
    st.dataframe(
        tables.frame(
            [
                {
                    "Rule": rule.label,
                    "State": "Raised" if rule.firing else ("Watching" if rule.enabled else "Off"),
                    "Threshold": "" if rule.threshold is None else f"{rule.threshold:g}",
                    "Threshold means": rule.threshold_label or "",
                }
                for rule in rules
            ],
            ["Rule", "State", "Threshold", "Threshold means"],
        ),
        hide_index=True,
    )


def log_section(account_id: int) -> None:
    """Every message sent (or being retried) for the account, newest first."""
    st.subheader("Alert log")
    with store.reading() as session:
        total = destinations.count_log(session=session, account_id=account_id)
    if not total:
        st.caption("No alert has been sent for this account yet.")
        return
    limit, offset = pager.pager(total, key="alerts_log_page")
    with store.reading() as session:
        rows = destinations.alert_log(
            session=session, account_id=account_id, limit=limit, offset=offset
        )
    st.dataframe(
        tables.frame(
            [
                {
                    "When": times.timestamp(row.created_at),
                    "What": EVENT_NAMES.get(row.event, row.event),
                    "Alert": row.title,
                    "Sent to": row.destination_hint,
                    "Delivery": _delivery(row.state, row.attempts),
                }
                for row in rows
            ],
            LOG_COLUMNS,
        ),
        hide_index=True,
    )
    problems = [row for row in rows if row.last_error]
    if problems:
        with st.expander("Technical details"):
            for row in problems:
                status = f"HTTP {row.last_status}, " if row.last_status else ""
                st.text(f"{row.message_id} ({status}{row.attempts} attempts): {row.last_error}")


# --- admin actions --------------------------------------------------------------------------


def add_destination(account_id: int, fields: dict[str, Any]) -> bool:
    """Store a new destination (admins only); a webhook's signing secret is shown once."""
    actor = identity.require_admin("change where alerts go")
    try:
        added = destinations.add_destination(
            process.runtime(), account_id=account_id, fields=fields, actor=actor
        )
    except ServiceError as exc:
        widgets.show_error(exc)
        return False
    if added.signing_secret:
        widgets.hold_secret(NEW_SECRET_KEY, added.signing_secret)
    widgets.flash(f"Alerts will also go to {plain(added.destination.target_hint)}.")
    return True


def remove_destination(destination_id: int) -> bool:
    """Delete a destination (admins only); its log stays."""
    actor = identity.require_admin("change where alerts go")
    try:
        with store.writing() as session:
            destinations.remove_destination(
                session=session, destination_id=destination_id, actor=actor,
            )  # fmt: skip
    except ServiceError as exc:
        widgets.show_error(exc)
        return False
    widgets.flash("Destination removed.")
    return True


def send_test_alert(account_id: int, destination_id: int | None = None) -> None:
    """Send a test alert now (admins only) and say whether it arrived."""
    actor = identity.require_admin("send a test alert")
    try:
        counts = destinations.send_test(
            process.runtime(), account_id=account_id, destination_id=destination_id, actor=actor
        )
    except ServiceError as exc:
        widgets.show_error(exc)
        return
    if counts.delivered == len(counts.results):
        st.success("The test alert arrived.", icon=":material/check_circle:")
        return
    st.warning(
        "The test alert did not arrive. It will be tried again, like any alert; the log shows "
        "each attempt.",
        icon=":material/warning:",
    )
    with st.expander("Technical details"):
        for sent in counts.results.values():
            if not sent.delivered:
                st.text(sent.error or "no answer")


def save_rules(account_id: int, changes: dict[str, tuple[bool, float | None]]) -> bool:
    """Save each rule's switch and threshold (admins only)."""
    actor = identity.require_admin("change alert rules")
    try:
        with store.writing() as session:
            for rule, (enabled, threshold) in changes.items():
                destinations.set_rule(
                    session=session, account_id=account_id, rule=rule, enabled=enabled,
                    threshold=threshold, actor=actor,
                )  # fmt: skip
    except ServiceError as exc:
        widgets.show_error(exc)
        return False
    widgets.flash("Alert rules saved.")
    return True


def destinations_section(account_id: int) -> None:
    """The account's destinations, a test button, removal, and a form to add one."""
    st.subheader("Where alerts go")
    widgets.show_secret_once(
        NEW_SECRET_KEY,
        what="webhook's signing secret",
        use="Give it to whoever receives the webhook so they can check each delivery's "
        "signature (Standard Webhooks).",
    )
    with store.reading() as session:
        rows = destinations.list_destinations(session=session, account_id=account_id)
    if not rows:
        st.caption("No destination yet: alerts are raised here but sent nowhere.")
    for row in rows:
        assert row.id is not None
        left, middle, right = st.columns([5, 1, 1])
        name = f" ({plain(row.label)})" if row.label else ""
        left.markdown(f"{KIND_NAMES[DestinationKind(row.kind)]}: {plain(row.target_hint)}{name}")
        if middle.button("Send a test alert", key=f"alerts_test_{row.id}"):
            send_test_alert(account_id, row.id)
        if right.button("Remove", key=f"alerts_remove_{row.id}") and remove_destination(row.id):
            st.rerun()
    with st.expander("Add a destination", expanded=not rows):
        kind = st.radio(
            "Kind", list(KIND_NAMES), format_func=lambda k: KIND_NAMES[k], horizontal=True,
            key="alerts_kind",
        )  # fmt: skip
        with st.form("alerts_add", clear_on_submit=True, border=False):
            label = st.text_input("Name (optional)")
            fields: dict[str, Any] = {"kind": kind, "label": label}
            if kind == DestinationKind.EMAIL:
                fields["smtp_host"] = st.text_input("Mail server")
                fields["smtp_port"] = st.number_input("Port", 1, 65535, 587)
                fields["smtp_starttls"] = st.checkbox("Use STARTTLS", value=True)
                fields["smtp_username"] = st.text_input("Login (optional)")
                fields["smtp_password"] = st.text_input("Password (optional)", type="password")
                fields["email_from"] = st.text_input("From") or None
                fields["email_to"] = st.text_input("To (comma-separated)")
            else:
                fields["url"] = st.text_input(
                    "URL", type="password" if kind == DestinationKind.SLACK else "default",
                    help="https://, or http:// to this machine",
                )  # fmt: skip
            if st.form_submit_button("Add destination") and add_destination(account_id, fields):
                st.rerun()


def rules_section(account_id: int) -> None:
    """Each rule's switch and threshold, saved together."""
    st.subheader("Rules")
    with store.reading() as session:
        rules = destinations.rules_of(
            session=session, account_id=account_id,
            sync_interval_seconds=process.settings().sync_interval_seconds,
        )  # fmt: skip
    with st.form("alerts_rules", border=False):
        changes: dict[str, tuple[bool, float | None]] = {}
        for rule in rules:
            left, right = st.columns([2, 1])
            enabled = left.checkbox(rule.label, value=rule.enabled, key=f"rule_{rule.rule}")
            threshold = None
            if rule.threshold_label:
                share = rule.rule == AlertRule.FAILURE_RATE
                threshold = right.number_input(
                    rule.threshold_label, min_value=0.0, value=float(rule.threshold or 0),
                    max_value=1.0 if share else None, step=0.05 if share else 1.0,
                    format="%g",  # "900" seconds as the table above says, not "900.00"
                    key=f"threshold_{rule.rule}",
                )  # fmt: skip
            changes[rule.rule.value] = (enabled, threshold)
        if st.form_submit_button("Save rules") and save_rules(account_id, changes):
            st.rerun()


def render() -> None:
    """Draw the Alerts page."""
    st.title("Alerts")
    st.caption(
        "An alert is sent once when something needs attention and once more when it is fixed, "
        "checked at every sync interval."
    )
    account_id = sidebar.select_account()
    if account_id is None:
        return
    now_section(account_id)
    if identity.is_admin():
        destinations_section(account_id)
        rules_section(account_id)
    log_section(account_id)


render()

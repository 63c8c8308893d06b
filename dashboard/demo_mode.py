"""The embedded demo: its simulator started once per process, and the two reasons demo mode
refuses to run (served beyond this machine, or a store not made for a demo)."""

from __future__ import annotations

import atexit
import ipaddress
from dataclasses import dataclass

import streamlit as st

from dashboard import process
from sync_engine.demo import (
    DemoReport,
    DemoSimulator,
    DemoStoreError,
    claim_demo_store,
    demo_refusal,
    repoint_demo_connections,
    seed_demo,
    stored_connections,
)


@dataclass
class DemoEnvironment:
    """The embedded simulator and what seeding did at start-up."""

    simulator: DemoSimulator
    report: DemoReport


@st.cache_resource(show_spinner="Starting the demo Clockwork…")
def demo() -> DemoEnvironment | None:
    """In demo mode: start the simulator, re-point old demo connections, seed an empty store."""
    rt = process.runtime()
    if not rt.settings.demo:
        return None
    simulator = DemoSimulator(rt.settings).start()
    atexit.register(simulator.stop)
    repoint_demo_connections(rt, simulator.base_url)
    report = seed_demo(rt, simulator.base_url)
    return DemoEnvironment(simulator=simulator, report=report)


def served_on_loopback(address: str | None) -> bool:
    """Whether Streamlit's ``server.address`` is a loopback address (unset: every interface)."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def off_loopback_refusal() -> str | None:
    """Why demo mode (no login) must not run: served beyond this machine. Streamlit reads
    ``server.address`` from the working directory's ``.streamlit/config.toml``, so a
    ``streamlit run`` started elsewhere listens on every interface: ``cwsync dashboard`` sets
    it on the command line."""
    address = st.get_option("server.address")
    if served_on_loopback(address):
        return None
    return (
        "Demo mode refuses to serve on "
        f"{address or 'every network interface'}: it has no login. Start the dashboard "
        "with `cwsync dashboard` (loopback only), or set CWSYNC_DEMO=false and configure "
        "a login to serve it on the network."
    )


@st.cache_resource(show_spinner=False)
def _claimed_demo_store() -> bool:
    """Mark the store a demo store if it is empty (once per process); refused otherwise."""
    claim_demo_store(process.runtime())
    return True


def store_refusal() -> str | None:
    """Why demo mode must not run on this store: not a demo store, or a demo store holding a
    real firm's credentials (checked on every run)."""
    try:
        _claimed_demo_store()
    except DemoStoreError as exc:
        return str(exc)
    return demo_refusal(stored_connections(process.runtime()))

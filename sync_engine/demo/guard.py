"""The guard: demo mode (no login; it seeds and resets data) keeps to demo stores.

:func:`claim_demo_store` opens only a store demo mode created (recorded in ``store_meta`` when it
was made) or an empty one, which it then marks; :func:`wipe_store` checks the mark again in the
transaction that deletes. A demo store holding credentials for anything but a simulator on this
machine is refused too (:func:`demo_refusal`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sync_engine import store_meta
from sync_engine.domain import ConnectionState
from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from sync_engine.services.errors import ServiceError


class DemoStoreError(ServiceError):
    """Demo mode met a store it must not open, seed or reset; the message says what to do."""


def _not_a_demo_store(refusal: str) -> str:
    return (
        f"Demo mode {refusal} this store: it was not created as a demo store, and demo mode has "
        "no login and seeds and resets data. Set CWSYNC_DEMO=false and configure a login to use "
        "this store, or point CWSYNC_DATA_DIR (or CWSYNC_DATABASE_URL) at a separate store for "
        "demos."
    )


def claim_demo_store(runtime: Runtime) -> None:
    """Let demo mode use this store: a demo store passes, an empty one is marked a demo store
    (in the same transaction that finds it empty), anything else is a :class:`DemoStoreError`.
    A demo store holding credentials for a real Clockwork is refused too."""
    with runtime.db.write() as session:
        claimed = store_meta.claim_for_demo(session=session, at=runtime.clock())
    if not claimed:
        raise DemoStoreError(_not_a_demo_store("refuses to open"))
    problem = demo_refusal(stored_connections(runtime))
    if problem:
        raise DemoStoreError(problem)


def is_simulator_url(base_url: str, *, simulator_host: str = "127.0.0.1") -> bool:
    """Whether a connection's base URL is a simulator on this machine: a loopback address, or the
    configured simulator host when that is a local address too (``0.0.0.0``); never a name or
    an address elsewhere, whatever ``CWSYNC_SIMULATOR_HOST`` says."""
    try:
        parts = urlsplit(base_url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost" or _is_loopback(host):
        return True
    local = simulator_host.strip().lower()
    return host == local and (_is_loopback(local) or _is_unspecified(local))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


@dataclass(frozen=True)
class StoredConnection:
    """A connection that holds credentials: its account's name and where it points."""

    account: str
    base_url: str
    account_id: int = field(default=0, compare=False)


def demo_refusal(connections: Iterable[StoredConnection]) -> str | None:
    """Why demo mode must not start on a store holding these connections, or None when all of
    them point at a loopback simulator. Demo mode has no login and seeds and resets data."""
    real = [c for c in connections if not is_simulator_url(c.base_url)]
    if not real:
        return None
    named = ", ".join(f"{c.account} ({c.base_url})" for c in real[:3])
    if len(real) > 3:
        named += f" and {len(real) - 3} more"
    return (
        "Demo mode refuses to start: this store holds credentials for a real Clockwork firm "
        f"({named}). The demo needs no login and seeds and resets data. Set CWSYNC_DEMO=false and "
        "configure a login to use this store, or point CWSYNC_DATABASE_URL at a separate store "
        "for demos."
    )


def demo_connection_problem(base_url: str, *, simulator_host: str = "127.0.0.1") -> str | None:
    """Why demo mode will not connect to ``base_url`` (a real Clockwork), or None when it is a
    simulator on this machine."""
    if is_simulator_url(base_url, simulator_host=simulator_host):
        return None
    return (
        f"Demo mode connects only to a Clockwork simulator on this machine, not to {base_url}: "
        "a demo needs no login and seeds and resets data. Run the dashboard with "
        "CWSYNC_DEMO=false and a login to connect a real firm."
    )


def stored_connections(runtime: Runtime) -> list[StoredConnection]:
    """The store's connections that hold credentials (every state but disconnected)."""
    found = []
    with runtime.db.read() as session:
        for account in accounts.list_accounts(session=session):
            assert account.id is not None
            summary = accounts.connection_summary(session=session, account_id=account.id)
            if summary is not None and summary.state != ConnectionState.DISCONNECTED:
                found.append(StoredConnection(account.name, summary.base_url, account.id))
    return found


def wipe_store(runtime: Runtime) -> None:
    """Delete every row of a demo store, in the transaction that checks it is one
    (:class:`DemoStoreError` otherwise); the schema and the store's own facts stay."""
    with runtime.db.write() as session:
        wiped = store_meta.wipe_demo_store(session=session)
    if not wiped:
        raise DemoStoreError(_not_a_demo_store("will not reset"))

"""What every page shares: the process's runtime, the embedded demo, the sync scheduler, the
selected account, the signed-in user and their role, and small rendering helpers.

Long-lived resources are held in ``st.cache_resource`` so reruns and browser sessions share one
store, one simulator and one scheduler per Streamlit process. Pages read and write the store
through :mod:`sync_engine.services` only.
"""

from __future__ import annotations

import atexit
import ipaddress
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import streamlit as st
from pydantic import Field
from sqlalchemy.exc import OperationalError

from dashboard import times
from sync_engine.config import Settings
from sync_engine.crypto import SecretKeyError
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
from sync_engine.runtime import Runtime, build_runtime
from sync_engine.services import accounts, auth
from sync_engine.services.auth import LoginConfig, Role
from sync_engine.services.errors import ServiceError, store_errors, store_unavailable

if TYPE_CHECKING:
    from sqlmodel import Session

logger = logging.getLogger(__name__)

ACCOUNT_KEY = "account_id"


class DashboardSettings(Settings):
    """The engine's settings plus the dashboard's own (same ``CWSYNC_`` prefix)."""

    scheduler: bool = Field(
        default=True, description="Run the sync scheduler inside the dashboard process"
    )
    refresh_seconds: float = Field(default=5.0, ge=1, description="Live refresh of status pages")


# --- process-wide resources -----------------------------------------------------------------


@st.cache_resource(show_spinner="Opening the store…")
def runtime() -> Runtime:
    """The process's runtime, built from ``CWSYNC_*`` settings (store migrated on first use)."""
    return build_runtime(DashboardSettings())


def settings() -> DashboardSettings:
    """The dashboard's settings."""
    return cast(DashboardSettings, runtime().settings)


@dataclass
class DemoEnvironment:
    """The embedded simulator and what seeding did at start-up."""

    simulator: DemoSimulator
    report: DemoReport


@st.cache_resource(show_spinner="Starting the demo Clockwork…")
def demo() -> DemoEnvironment | None:
    """In demo mode: start the simulator, re-point old demo connections, seed an empty store."""
    rt = runtime()
    if not rt.settings.demo:
        return None
    simulator = DemoSimulator(rt.settings).start()
    atexit.register(simulator.stop)
    repoint_demo_connections(rt, simulator.base_url)
    report = seed_demo(rt, simulator.base_url)
    return DemoEnvironment(simulator=simulator, report=report)


@dataclass
class EngineStatus:
    """The scheduler of this process, or why there is none."""

    handle: Any | None
    message: str | None = None

    @property
    def running(self) -> bool:
        """Whether passes are being scheduled."""
        return self.handle is not None and bool(self.handle.running)


@st.cache_resource(show_spinner="Starting the sync scheduler…")
def engine() -> EngineStatus:
    """Start the sync scheduler once per process (unless ``CWSYNC_SCHEDULER=false``)."""
    if not settings().scheduler:
        return EngineStatus(None, "The scheduler is turned off (CWSYNC_SCHEDULER=false).")
    try:
        from sync_engine.engine.scheduler import start_engine
    except ImportError as exc:
        logger.warning("sync engine not available: %s", exc)
        return EngineStatus(None, f"The sync engine is not available in this build ({exc}).")
    handle = start_engine(runtime())
    atexit.register(handle.shutdown, wait=False)
    return EngineStatus(handle)


def boot() -> None:
    """Open the store, start the demo (if on) and then the scheduler; idempotent per process.

    Demo mode stops here, before anything starts, when the dashboard is served on an address
    other than loopback, or when the store is not a demo store (an empty one becomes one). Stored
    credentials the key cannot decrypt mark their connections *needs attention*.
    """
    refuse_demo_off_loopback()
    try:
        rt = runtime()
    except SecretKeyError as exc:
        _refuse(str(exc), icon=":material/key_off:")
    except OperationalError as exc:  # unreachable, read-only, not a folder: said, then retried
        url = DashboardSettings().database_url
        _refuse(f"{store_unavailable(exc, url)}. Fix the store and reload the page.")
    except OSError as exc:  # its folder or key file cannot be made or read
        where = f": {exc.filename}" if exc.filename else ""
        _refuse(f"The store cannot be opened: {exc.strerror or exc}{where}. Fix it and reload.")
    if settings().demo:
        refuse_demo_on_a_store_not_made_for_it()
    if rt.key_problem is not None:
        flag_undecryptable_connections()
    demo()
    engine()


def _refuse(message: str, *, icon: str = ":material/gpp_bad:") -> None:
    st.title("Clockwork Sync")
    st.error(message, icon=icon)
    st.stop()


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


def refuse_demo_off_loopback() -> None:
    """Stop the run when demo mode (no login) would be served beyond this machine. Streamlit
    reads ``server.address`` from the working directory's ``.streamlit/config.toml``, so a
    ``streamlit run`` started elsewhere listens on every interface: ``cwsync dashboard`` sets
    it on the command line."""
    if not DashboardSettings().demo:
        return
    address = st.get_option("server.address")
    if not served_on_loopback(address):
        _refuse(
            "Demo mode refuses to serve on "
            f"{address or 'every network interface'}: it has no login. Start the dashboard "
            "with `cwsync dashboard` (loopback only), or set CWSYNC_DEMO=false and configure "
            "a login to serve it on the network."
        )


@st.cache_resource(show_spinner=False)
def _claimed_demo_store() -> bool:
    """Mark the store a demo store if it is empty (once per process); refused otherwise."""
    claim_demo_store(runtime())
    return True


def refuse_demo_on_a_store_not_made_for_it() -> None:
    """Stop the run with the reason when demo mode meets a store that is not a demo store, or a
    demo store holding a real firm's credentials (checked on every run)."""
    try:
        _claimed_demo_store()
    except DemoStoreError as exc:
        _refuse(str(exc))
    problem = demo_refusal(stored_connections(runtime()))
    if problem:
        _refuse(problem)


@st.cache_resource(show_spinner=False)
def flag_undecryptable_connections() -> int:
    """Mark the connections whose credentials the key cannot decrypt *needs attention* (once
    per process): their work pauses until staff re-enter the credentials. How many were live."""
    rt = runtime()
    problem = rt.key_problem
    if problem is None:
        return 0
    error = f"Re-enter the credentials: {rt.box.cannot_decrypt()}"
    with rt.db.write() as session:
        for account_id in problem.account_ids:
            accounts.mark_needs_attention(
                session=session, account_id=account_id, error=error, clock=rt.clock
            )
    return len(problem.account_ids)


def key_warning() -> None:
    """Say, on every page, that some stored credentials need to be entered again."""
    problem = runtime().key_problem
    if problem is not None:
        st.warning(
            f"{len(problem.account_ids)} connection(s) need attention — re-enter the "
            f"credentials on the Integrations page. {problem.message[:1].upper()}"
            f"{problem.message[1:]}.",
            icon=":material/key_off:",
        )


# --- sessions on the store ------------------------------------------------------------------


@contextmanager
def reading() -> Iterator[Session]:
    """A read session on the store."""
    with runtime().db.read() as session:
        yield session


@contextmanager
def writing() -> Iterator[Session]:
    """A short write transaction on the store; a store that cannot take it (read-only, full,
    unreachable) is a `ServiceError` with the store's one-line reason, shown like any other."""
    db = runtime().db
    with store_errors(db.url), db.write() as session:
        yield session


# --- who is signed in, and what they may do -------------------------------------------------

USER_KEY = "_cwsync_user"


@dataclass(frozen=True)
class SignedIn:
    """The person using this browser session: name (for the audit log), role, and how they came
    in ("password", "oidc" or "demo"). A password user keeps the hash seen at sign-in, so
    changing their password in the secrets signs them out."""

    name: str
    role: Role
    method: str
    credential: str = field(default="", repr=False)

    @property
    def is_admin(self) -> bool:
        """Whether this person may change things."""
        return auth.is_admin(self.role)


DEMO_USER = SignedIn("demo user", Role.ADMIN, "demo")


def login_config() -> LoginConfig:
    """The login configuration in ``.streamlit/secrets.toml`` (:class:`AuthConfigError` if bad)."""
    if not st.secrets.load_if_toml_exists():
        return LoginConfig()
    return auth.load_login_config(st.secrets.to_dict())


def oidc_email() -> str | None:
    """The email claim of the user signed in through Streamlit's OIDC login, if any (never the
    display name: :func:`auth.oidc_email`)."""
    try:
        return auth.oidc_email(st.user)
    except Exception:  # no [auth] configured: st.user has nothing to say
        return None


def oidc_email_verified() -> bool:
    """True only when the identity provider says the signed-in email is verified."""
    try:
        return auth.oidc_email_verified(st.user)
    except Exception:
        return False


def current_user(config: LoginConfig | None = None) -> SignedIn | None:
    """Who is signed in, checked against the secrets (read now unless given) on every call (a
    removed user, a changed password or role takes effect at once); the demo user in demo mode;
    None when nobody is."""
    if settings().demo:
        return DEMO_USER
    config = login_config() if config is None else config
    stored = st.session_state.get(USER_KEY)
    # Only this module stores a SignedIn object: nothing a browser sends can pass for one.
    if isinstance(stored, SignedIn) and stored.method == "password":
        user = config.users.get(stored.name)
        if user is not None and user.password_hash == stored.credential:
            return SignedIn(user.name, user.role, "password", user.password_hash)
        return None
    if config.oidc:
        email = oidc_email()
        role = config.access.role_for(email) if oidc_email_verified() else None
        if email and role is not None:
            return SignedIn(email.strip().lower(), role, "oidc")
    return None


def sign_in(user: auth.PasswordUser) -> None:
    """Remember a password user who just proved who they are, for this browser session."""
    st.session_state[USER_KEY] = SignedIn(user.name, user.role, "password", user.password_hash)


def sign_out() -> None:
    """Forget who is signed in (and end the OIDC session when that is how they came in)."""
    user = st.session_state.pop(USER_KEY, None)
    if not isinstance(user, SignedIn) and oidc_email():
        st.logout()


def is_admin() -> bool:
    """Whether the signed-in person may change things (to show or hide actions)."""
    try:
        user = current_user()
    except ServiceError:
        return False
    return user is not None and user.is_admin


def require_admin(action: str = "make this change") -> str:
    """Check, right before a change, that an admin is signed in; return their name for the
    audit log. Anyone else gets the reason on screen and the run stops before the change."""
    try:
        user = current_user()
        auth.require_admin(user.role if user else None, action=action)
    except ServiceError as exc:
        show_error(exc)
        st.stop()
        raise  # st.stop() raises inside a script run; outside one, refuse all the same
    return actor(user)


ACTING_AS_FIELD = "actor"
ACTING_AS_KEY = "_cwsync_acting_as"


def actor(user: SignedIn | None = None) -> str:
    """Who acts, for the audit log: the signed-in user (looked up unless given); in demo mode
    the name in the sidebar's "Acting as" box, as :func:`sidebar_identity` recorded it."""
    user = user or current_user()
    if user is None:
        return "dashboard"
    if user.method == "demo":
        # The box's value when this run has one: a fragment's run (the live contact detail)
        # does not draw the box but gets what was typed. Else the name recorded at the last
        # full run: Streamlit may have dropped the box's value.
        typed = st.session_state.get(ACTING_AS_FIELD)
        name = typed if isinstance(typed, str) else st.session_state.get(ACTING_AS_KEY)
        return name.strip() if isinstance(name, str) and name.strip() else user.name
    return user.name


def sidebar_identity() -> None:
    """The sidebar's first part: who is signed in, or in demo mode the "Acting as" box. Drawn
    before the page runs, so that no page's own sidebar widgets (the account selector) ever take
    its place in the browser."""
    user = current_user()
    if user is not None and user.method == "demo":
        acting_as()
    elif user is not None:
        st.sidebar.caption(f"Signed in as {plain(user.name)} · {user.role.value}")
        st.sidebar.button("Log out", icon=":material/logout:", on_click=sign_out)


def acting_as() -> str:
    """The "Acting as" box of demo mode; the name it holds is recorded for :func:`actor`.

    The name the audit log uses is kept in session state of its own, not read from the widget:
    Streamlit drops a widget's value when a page change is requested while the browser is not
    showing that widget, and the log must not fall back to "demo user" then. The box is given
    the recorded name back if that happens. Typing commits without a rerun (``"ignore"``), so
    a click that follows is never raced, and so lost, by the rerun the typing would start.
    """
    recorded = st.session_state.get(ACTING_AS_KEY)
    if ACTING_AS_FIELD not in st.session_state and isinstance(recorded, str) and recorded:
        st.session_state[ACTING_AS_FIELD] = recorded
    typed = st.sidebar.text_input(
        "Acting as",
        key=ACTING_AS_FIELD,
        on_change="ignore",
        max_chars=100,
        placeholder="your name (for the audit log)",
        help="Demo mode has no login: every change is logged under this name.",
    )
    name = (typed or "").strip()
    st.session_state[ACTING_AS_KEY] = name
    return name


def sidebar_status() -> None:
    """The sidebar's last part: whether the engine runs, whether this is a demo, and the timezone
    the pages' times are in."""
    status = engine()
    if status.running:
        st.sidebar.caption(
            f":green[●] Sync scheduler running (every {settings().sync_interval_seconds:g} s)"
        )
    else:
        st.sidebar.caption(f":orange[●] {status.message or 'Sync scheduler stopped.'}")
    if settings().demo:
        st.sidebar.caption(":violet[●] Demo mode: an embedded Clockwork simulator")
    st.sidebar.caption(times.zone_note())


def choose_account(account_id: int) -> None:
    """Make ``account_id`` the selected account (before the sidebar selector is drawn)."""
    st.session_state[ACCOUNT_KEY] = account_id
    st.session_state["_account_select"] = account_id


def select_account(label: str = "Account") -> int | None:
    """The account the page is about, chosen in the sidebar and kept across pages."""
    with reading() as session:
        choices = {a.id: a.name for a in accounts.list_accounts(session=session)}
    if not choices:
        st.info("No accounts yet. Create one on the **Integrations** page.")
        return None
    ids = list(choices)
    current = st.session_state.get(ACCOUNT_KEY)
    if st.session_state.get("_account_select") not in ids:
        st.session_state["_account_select"] = current if current in ids else ids[0]
    chosen = st.sidebar.selectbox(
        label, ids, format_func=lambda i: choices.get(i, str(i)), key="_account_select"
    )
    st.session_state[ACCOUNT_KEY] = chosen
    return cast(int, chosen)


# --- rendering helpers ----------------------------------------------------------------------


def show_error(exc: ServiceError | Exception) -> None:
    """Show an error's one-line message (never as HTML)."""
    st.error(str(exc), icon=":material/error:")


def now() -> datetime:
    """The runtime's clock."""
    return runtime().clock()


def ago(moment: datetime | None, *, at: datetime | None = None) -> str:
    """How long ago (or how soon) ``moment`` is; past a day and a half its time in the viewer's
    timezone, with the zone; '—' for never (:func:`dashboard.times.relative`)."""
    return times.relative(moment, at=at)


def local_time(moment: datetime | None) -> str | None:
    """A timestamp in the viewer's timezone, ending with its zone
    (:func:`dashboard.times.timestamp`)."""
    return times.timestamp(moment)


def pager(total: int, *, key: str, page_size: int = 50) -> tuple[int, int]:
    """The pager (First, Previous, "Page N of M", Next, Last) here; returns (limit, offset) for
    the query. :mod:`dashboard.pager` can also draw it under the table, clear of its toolbar."""
    from dashboard import pager as paging  # it imports widgets, which import this module

    return paging.pager(total, key=key, page_size=page_size)


def frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A DataFrame with fixed columns, even when there are no rows."""
    return pd.DataFrame(rows, columns=columns)


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>:~$=@")


def plain(text: object) -> str:
    """``text`` escaped so Streamlit's Markdown shows it literally (no links, styling or HTML)."""
    return "".join(f"\\{char}" if char in _MARKDOWN_SPECIAL else char for char in str(text))


def engine_actions() -> Any | None:
    """The staff actions module (retry, dismiss), or None while the engine is not installed."""
    try:
        from sync_engine.services import actions
    except ImportError:
        return None
    return actions


def flash(message: str) -> None:
    """Show ``message`` as a toast on the next run (survives ``st.rerun``)."""
    st.session_state["_flash"] = message


def show_flash() -> None:
    """Show and clear a message left by :func:`flash`."""
    message = st.session_state.pop("_flash", None)
    if message:
        st.toast(message, icon=":material/check_circle:")


def selected_rows(key: str) -> list[int]:
    """Row positions selected in the dataframe widget ``key`` (as of the last interaction)."""
    state = st.session_state.get(key)
    if not state:
        return []
    try:
        return [int(row) for row in state["selection"]["rows"]]
    except (KeyError, TypeError):
        return []

"""The door of the dashboard outside demo mode: OIDC and password sign-in, or why there is none.

:func:`require_login` runs before any page. With no login configured the dashboard shows no data
and says how to configure one; with a malformed configuration it says what is wrong. Passwords
are checked by :mod:`sync_engine.services.auth` (argon2id); each attempt is counted
in the store before its password is checked (:mod:`sync_engine.services.login_throttle`), so
repeated wrong ones lock the username, or the client, for a few minutes, in every process and
across restarts, and parallel attempts cannot slip past the count.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from dashboard import identity, process, store
from dashboard.plain_text import plain
from sync_engine.services import auth, login_throttle
from sync_engine.services.auth import AuthConfigError, LoginConfig

HASH_COMMAND = "python -m dashboard.hash_password --user alice --role admin"
USERS_EXAMPLE = """\
# .streamlit/secrets.toml (never commit it)
[users.alice]
password_hash = "$argon2id$v=19$..."     # from: python -m dashboard.hash_password
role = "admin"                           # admin: changes settings; viewer: audits only

[users.victor]
password_hash = "$argon2id$v=19$..."
role = "viewer"
"""
OIDC_EXAMPLE = """\
[auth]                                   # Streamlit's OIDC login (st.login)
redirect_uri = "https://sync.example.com/oauth2callback"
cookie_secret = "..."
client_id = "..."
client_secret = "..."
server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"

[access]                                 # who may enter after signing in
admins = ["alice@example.com"]
viewers = ["@example.com"]               # @domain: every address of the domain
"""


def require_login() -> identity.SignedIn:
    """Who uses this session; until someone may, show the way in and stop the run."""
    if process.settings().demo:
        return identity.DEMO_USER
    try:
        config = identity.login_config()
        user = identity.current_user(config)
    except AuthConfigError as exc:
        _header()
        st.error(
            f"The login configuration in `.streamlit/secrets.toml` is not usable: {exc}",
            icon=":material/error:",
        )
        st.stop()
        raise
    if user is not None:
        return user
    identity.forget()  # a removed user or a changed password
    remember_destination()
    _header()
    if not config.enabled:
        not_configured()
    else:
        login_screen(config)
    st.stop()
    raise AssertionError("st.stop() returned")  # pragma: no cover - only outside a script run


RETURN_TO = "_login_return_to"


def remember_destination() -> None:
    """The page and query a signed-out visitor asked for (a shared link to one contact), to
    open once they sign in with a password: until then no page is known, and the sign-in ended
    on the Overview. (Single sign-on leaves for the identity provider and comes back to a new
    session at "/", which starts on the Overview.)"""
    if RETURN_TO not in st.session_state:
        path = urlsplit(st.context.url or "").path.rstrip("/").rpartition("/")[2]
        st.session_state[RETURN_TO] = (path, st.query_params.to_dict())


def open_remembered_page(pages: Iterable[StreamlitPage], current: StreamlitPage) -> None:
    """Just after signing in: switch to the page remembered by :func:`remember_destination`
    when it is one this user may see and not the page shown already."""
    remembered = st.session_state.pop(RETURN_TO, None)
    if remembered is None:
        return
    path, query = remembered
    target = next((page for page in pages if page.url_path == path), None)
    if target is None or (target.url_path == current.url_path and not query):
        return
    st.switch_page(target, query_params=query)


def _header() -> None:
    st.title("Clockwork Sync")


def not_configured() -> None:
    """Outside demo mode with no login: refuse, and say how to configure one."""
    st.error(
        "No login is configured, so the dashboard shows no customer data outside demo mode.",
        icon=":material/lock:",
    )
    st.markdown(
        "Add dashboard users to `.streamlit/secrets.toml`, with a password hash made by "
        f"`{HASH_COMMAND}`, then reload this page:"
    )
    st.code(USERS_EXAMPLE, language="toml")
    st.markdown(
        "Or use single sign-on: configure Streamlit's OIDC login in an `[auth]` section and "
        "list who may enter in `[access]`:"
    )
    st.code(OIDC_EXAMPLE, language="toml")
    st.caption("For a demo with the embedded Clockwork simulator and no login: CWSYNC_DEMO=true.")


def login_screen(config: LoginConfig) -> None:
    """Single sign-on (when ``[auth]`` is set) and the password form (when ``[users]`` is)."""
    st.write("Sign in to see customer accounts.")
    if config.oidc:
        email = identity.oidc_email()
        if email:
            reason = (
                "has no access to this dashboard. Ask an admin to add it to `[access]` in "
                "`.streamlit/secrets.toml`."
                if identity.oidc_email_verified()
                else "is not verified by the identity provider, so it cannot be let in."
            )
            st.error(f"{plain(email)} {reason}", icon=":material/block:")
            st.button("Log out", on_click=st.logout)
        else:
            st.button("Log in with single sign-on", type="primary", on_click=st.login)
    if config.users:
        password_form(config)


def password_form(config: LoginConfig) -> None:
    """Username and password; a wrong pair gets one message whichever half was wrong."""
    with st.form("login", clear_on_submit=True):
        username = st.text_input("Username", max_chars=64, autocomplete="username")
        password = st.text_input(
            "Password", type="password", max_chars=200, autocomplete="current-password"
        )
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if not submitted:
        return
    if not username.strip() or not password:
        st.error("Enter your username and password.", icon=":material/error:")
        return
    result = check_password(config, username, password, client=st.context.ip_address)
    if isinstance(result, login_throttle.Locked):
        minutes = max(1, round(result.left.total_seconds() / 60))
        whose = "for this username" if result.by == "username" else "from this address"
        st.error(
            f"Too many wrong passwords {whose}. Try again in {minutes} min.",
            icon=":material/lock_clock:",
        )
        return
    if result is None:
        st.error("Wrong username or password.", icon=":material/error:")
        return
    identity.sign_in(result)
    st.rerun()


def check_password(
    config: LoginConfig, username: str, password: str, *, client: str | None
) -> auth.PasswordUser | login_throttle.Locked | None:
    """The user these are the name and password of; None when they are wrong; who is locked
    when the attempt is refused unchecked. The attempt is counted in the store first."""
    with store.writing() as session:
        locked = login_throttle.begin_attempt(
            session=session, username=username, client=client, now=process.now()
        )
    if locked is not None:
        return locked
    user = auth.authenticate(config, username, password)
    if user is not None:
        with store.writing() as session:
            login_throttle.attempt_succeeded(session=session, username=username, client=client)
    return user

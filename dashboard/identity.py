"""Who uses this browser session and what they may do: the signed-in user checked against the
secrets on every call, sign-in and sign-out, the admin check before a change, and the name the
audit log records (in demo mode, the sidebar's "Acting as" box)."""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from dashboard import process
from dashboard.widgets import show_error
from sync_engine.services import auth
from sync_engine.services.auth import LoginConfig, Role
from sync_engine.services.errors import ServiceError

USER_KEY = "_cwsync_user"
ACTING_AS_FIELD = "actor"
_ACTING_AS_KEY = "_cwsync_acting_as"


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
    if process.settings().demo:
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


def forget() -> None:
    """Forget a password sign-in that no longer holds (a removed user, a changed password)."""
    st.session_state.pop(USER_KEY, None)


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


def actor(user: SignedIn | None = None) -> str:
    """Who acts, for the audit log: the signed-in user (looked up unless given); in demo mode
    the name in the sidebar's "Acting as" box, as :func:`acting_as` recorded it."""
    user = user or current_user()
    if user is None:
        return "dashboard"
    if user.method == "demo":
        # The box's value when this run has one: a fragment's run (the live contact detail)
        # does not draw the box but gets what was typed. Else the name recorded at the last
        # full run: Streamlit may have dropped the box's value.
        typed = st.session_state.get(ACTING_AS_FIELD)
        name = typed if isinstance(typed, str) else st.session_state.get(_ACTING_AS_KEY)
        return name.strip() if isinstance(name, str) and name.strip() else user.name
    return user.name


def acting_as() -> str:
    """The "Acting as" box of demo mode, in the sidebar; the name it holds is recorded for
    :func:`actor`.

    The name the audit log uses is kept in session state of its own, not read from the widget:
    Streamlit drops a widget's value when a page change is requested while the browser is not
    showing that widget, and the log must not fall back to "demo user" then. The box is given
    the recorded name back if that happens. Typing commits without a rerun (``"ignore"``), so
    a click that follows is never raced, and so lost, by the rerun the typing would start.
    """
    recorded = st.session_state.get(_ACTING_AS_KEY)
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
    st.session_state[_ACTING_AS_KEY] = name
    return name

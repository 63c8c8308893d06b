"""Sign-in and roles through AppTest: outside demo mode nothing shows without a login, a password
login lets the right people in, OIDC users get the role ``[access]`` gives them, a viewer sees
no admin action and cannot trigger one, and the audit log names the signed-in user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from clockwork_simulator import SimulatorServer
from dashboard import identity, plain_text
from sync_engine import audit
from sync_engine.models import Enrollment
from sync_engine.runtime import Runtime
from sync_engine.services import auth
from tests.dashboard.conftest import (
    ADMIN,
    PASSWORD,
    VIEWER,
    by_label,
    login_secrets,
    new_app,
    oidc_app,
    open_page,
    password_hash,
    sent_to_browser,
    texts,
)
from tests.factories import (
    enroll,
    make_connected_account,
    make_sequence,
    set_enrollment,
)

ADMIN_PAGES = {"integrations", "sync_settings", "sequences"}
VIEWER_PAGES = {"overview", "contacts", "activity", "sync_log", "alerts", "verify", "audit_log"}


def _run(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _sign_in(app: AppTest, username: str, password: str) -> AppTest:
    by_label(app.text_input, "Username").input(username)
    by_label(app.text_input, "Password").input(password)
    by_label(app.button, "Sign in").click()
    return _run(app)


def _navigation(app: AppTest) -> set[str]:
    """The pages (script names) the last run's navigation offered."""
    return {Path(str(info["script_path"])).stem for info in app._registered_pages.values()}


@pytest.fixture
def account(store: Runtime, simulator: SimulatorServer) -> dict[str, Any]:
    """A connected account with a sequence, one failed enrollment and one needing review."""
    account_id = make_connected_account(store, base_url=simulator.base_url)
    sequence_id = make_sequence(store, account_id, "VP Engineering")
    failed = enroll(store, sequence_id, "ada@lovelace.com")
    review = enroll(store, sequence_id, "ken@wingtip.com")
    set_enrollment(store, failed, status="failed", reason="validation_error", next_attempt_at=None)
    set_enrollment(
        store, review, status="needs_review", reason="ambiguous_linkedin_match",
        next_attempt_at=None,
        review_candidates=[
            {"id": "p-a", "name": "Ken T.", "emails": ["k@a.com"], "position": None},
            {"id": "p-b", "name": "Ken Thompson", "emails": [], "position": "CTO"},
        ],
    )  # fmt: skip
    return {"account_id": account_id, "failed": failed, "review": review}


# --- no login, no data ----------------------------------------------------------------------


def test_without_any_login_configured_the_dashboard_refuses_and_says_how(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = _run(new_app(user=None, secrets={"unrelated": {"x": "1"}}))
    shown = texts(app)
    assert "No login is configured" in shown
    assert "python -m dashboard.hash_password" in shown
    assert "[users.alice]" in "".join(str(code.value) for code in app.code)
    assert not app.dataframe and not app.metric
    assert "Acme Talent" not in shown


def test_a_malformed_login_configuration_is_named_and_nothing_shows(
    store: Runtime, account: dict[str, Any]
) -> None:
    secrets = {"users": {"alice": {"password_hash": "plain-text", "role": "admin"}}}
    app = _run(new_app(user=None, secrets=secrets))
    assert "[users.alice]: password_hash is not usable" in texts(app)
    assert not app.dataframe and not app.text_input


def test_with_users_configured_the_login_form_comes_first(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = _run(new_app(user=None))
    assert "Sign in to see customer accounts." in texts(app)
    assert by_label(app.text_input, "Password").proto.type == app.text_input[0].proto.PASSWORD
    assert not app.dataframe and not app.metric


# --- the password form ----------------------------------------------------------------------


def test_the_right_password_opens_the_dashboard_as_that_user(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = _sign_in(_run(new_app(user=None)), "  Casey@CS ", PASSWORD)
    assert app.title[0].value == "Overview"
    assert list(app.dataframe[0].value["Account"]) == ["Acme Talent"]
    assert f"Signed in as {plain_text.plain(ADMIN)} · admin" in [
        c.value for c in app.sidebar.caption
    ]
    assert not [field for field in app.text_input if field.label == "Acting as"]


@pytest.mark.parametrize(
    ("username", "password"),
    [(ADMIN, "wrong password!"), ("nobody@cs", PASSWORD), (ADMIN, PASSWORD.upper())],
)
def test_a_wrong_username_or_password_is_refused_with_one_message(
    store: Runtime, account: dict[str, Any], username: str, password: str
) -> None:
    app = _sign_in(_run(new_app(user=None)), username, password)
    assert [e.value for e in app.error] == ["Wrong username or password."]
    assert not app.dataframe
    assert identity.USER_KEY not in app.session_state
    assert password.encode() not in sent_to_browser(app)  # never echoed back


def test_an_empty_form_asks_for_both_fields(store: Runtime) -> None:
    app = _run(new_app(user=None))
    by_label(app.button, "Sign in").click()
    app = _run(app)
    assert [e.value for e in app.error] == ["Enter your username and password."]


def test_five_wrong_passwords_lock_the_username_even_for_the_right_one(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = _run(new_app(user=None))
    for _ in range(5):
        app = _sign_in(app, ADMIN, "wrong password!")
    app = _sign_in(app, ADMIN, PASSWORD)
    assert "Too many wrong passwords for this username. Try again in 5 min." in texts(app)
    assert not app.dataframe
    app = _sign_in(app, VIEWER, PASSWORD)  # other users are not affected
    assert app.title[0].value == "Overview"


def test_the_lockout_survives_a_restart_of_the_dashboard(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = _run(new_app(user=None))
    for _ in range(5):
        app = _sign_in(app, ADMIN, "wrong password!")
    st.cache_resource.clear()  # a new process: nothing kept in memory
    app = _sign_in(_run(new_app(user=None)), ADMIN, PASSWORD)
    assert "Too many wrong passwords for this username. Try again in 5 min." in texts(app)
    assert not app.dataframe


def test_logging_out_returns_to_the_login_form(store: Runtime, account: dict[str, Any]) -> None:
    app = open_page()
    by_label(app.sidebar.button, "Log out").click()
    app = _run(app)
    assert "Sign in to see customer accounts." in texts(app)
    assert not app.dataframe


def test_a_removed_user_or_a_new_password_signs_the_session_out(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = open_page()
    assert app.dataframe
    app.secrets["users"] = {
        ADMIN: {"password_hash": auth.hash_password(PASSWORD), "role": "admin"},
    }
    app = _run(app)
    assert "Sign in to see customer accounts." in texts(app) and not app.dataframe

    app = open_page()
    app.secrets["users"] = {VIEWER: login_secrets()["users"][VIEWER]}
    app = _run(app)
    assert "Sign in to see customer accounts." in texts(app)


def test_a_changed_role_applies_on_the_next_run(store: Runtime, account: dict[str, Any]) -> None:
    app = open_page()
    assert _navigation(app) >= ADMIN_PAGES
    app.secrets["users"][ADMIN]["role"] = "viewer"
    app = _run(app)
    assert not ADMIN_PAGES & _navigation(app)


# --- viewers and admins ---------------------------------------------------------------------


def test_a_viewer_is_offered_only_the_audit_pages(store: Runtime, account: dict[str, Any]) -> None:
    app = open_page(user=VIEWER)
    assert _navigation(app) == VIEWER_PAGES
    assert f"Signed in as {plain_text.plain(VIEWER)} · viewer" in [
        c.value for c in app.sidebar.caption
    ]
    for page in ("integrations", "sync_settings", "sequences", "demo_controls"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            app.switch_page(f"app_pages/{page}.py")


def test_an_admin_is_offered_the_configuration_pages(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = open_page()
    assert _navigation(app) == VIEWER_PAGES | ADMIN_PAGES


def test_a_viewer_sees_contacts_and_may_export_but_not_retry_or_dismiss(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = open_page("contacts", user=VIEWER)
    assert len(app.dataframe[0].value) == 2
    assert [b.label for b in app.button if b.label.startswith("Export")] == ["Export 2 as CSV"]
    labels = {button.label for button in app.button}
    assert not {label for label in labels if label.startswith(("Retry", "Dismiss"))}, labels

    app.query_params["enrollment"] = str(account["failed"])
    app = _run(app)
    assert "Timeline" in texts(app)
    assert not {b.label for b in app.button} & {"Retry", "Dismiss"}


def test_a_viewer_sees_a_review_waiting_for_an_admin_without_the_choice(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = new_app(user=VIEWER)
    app.run()
    app.switch_page("app_pages/contacts.py")
    app.query_params["enrollment"] = str(account["review"])
    app = _run(app)
    assert "Waiting for an admin to choose the Clockwork person" in texts(app)
    assert not app.radio
    assert "Use this choice" not in {b.label for b in app.button}


def test_an_admin_sees_the_actions_a_viewer_does_not(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = open_page("contacts")
    labels = {button.label for button in app.button}
    assert {"Retry all failed (1)", "Retry selected (0)", "Dismiss selected (0)"} <= labels
    app = open_page("activity")
    assert any(e.label == "Activity backfill" for e in app.expander)
    app = open_page("activity", user=VIEWER)
    assert not any(e.label == "Activity backfill" for e in app.expander)


def test_the_admin_check_runs_again_right_before_a_change(store: Runtime) -> None:
    """A change reached without the page's own check (a stale page, a forged click) is refused
    by ``identity.require_admin`` itself, and the code after it never runs."""

    def script() -> None:
        import streamlit as st

        from dashboard import identity

        actor = identity.require_admin("retry contacts")
        st.write(f"changed by {actor}")

    for user, allowed in ((ADMIN, True), (VIEWER, False), (None, False)):
        app = AppTest.from_function(script, default_timeout=30)
        app.secrets.update(login_secrets())
        if user is not None:
            app.session_state[identity.USER_KEY] = identity.SignedIn(
                user, auth.Role.ADMIN if user == ADMIN else auth.Role.VIEWER, "password",
                password_hash(),
            )  # fmt: skip
        app = _run(app)
        shown = texts(app)
        if allowed:
            assert shown == f"changed by {ADMIN}"
        else:
            assert "changed by" not in shown
            assert "Only an admin can retry contacts" in shown


def test_a_forged_session_value_is_not_a_sign_in(store: Runtime) -> None:
    app = new_app(user=None)
    app.session_state[identity.USER_KEY] = {"name": ADMIN, "role": "admin", "method": "password"}
    app = _run(app)
    assert "Sign in to see customer accounts." in texts(app) and not app.dataframe


def test_a_viewer_whose_role_was_taken_away_mid_session_cannot_retry(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = open_page("contacts")
    app.secrets["users"][ADMIN]["role"] = "viewer"
    by_label(app.button, "Retry all failed (1)").click()
    app = _run(app)
    with store.db.read() as session:
        row = session.get(Enrollment, account["failed"])
        entries = audit.list_entries(session=session, account_id=account["account_id"])
    assert row is not None and row.status == "failed"
    assert not [e for e in entries if e.entity == "enrollment"]


def test_changes_are_audited_under_the_signed_in_user(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = _sign_in(_run(new_app(user=None)), ADMIN, PASSWORD)
    app.switch_page("app_pages/contacts.py")
    app = _run(app)
    by_label(app.button, "Retry all failed (1)").click()
    _run(app)
    with store.db.read() as session:
        entries = audit.list_entries(session=session, account_id=account["account_id"])
    assert {e.actor for e in entries if e.entity == "enrollment"} == {ADMIN}


# --- single sign-on (OIDC) ------------------------------------------------------------------


def test_oidc_offers_single_sign_on_before_anything(
    store: Runtime, account: dict[str, Any]
) -> None:
    app = _run(oidc_app({"is_logged_in": False}))
    assert "Log in with single sign-on" in {b.label for b in app.button}
    assert not app.text_input and not app.dataframe


def test_oidc_and_passwords_can_be_offered_together(store: Runtime) -> None:
    app = oidc_app({"is_logged_in": False})
    app.secrets.update(login_secrets())
    app = _run(app)
    assert {"Log in with single sign-on", "Sign in"} <= {b.label for b in app.button}


@pytest.mark.parametrize(
    ("email", "pages"),
    [("alice@example.com", VIEWER_PAGES | ADMIN_PAGES), ("Bob@Example.com", VIEWER_PAGES)],
)
def test_oidc_users_get_the_role_of_the_access_list(
    store: Runtime, account: dict[str, Any], email: str, pages: set[str]
) -> None:
    app = _run(oidc_app({"is_logged_in": True, "email": email, "email_verified": True}))
    assert _navigation(app) == pages
    assert app.dataframe


@pytest.mark.parametrize(
    ("user", "message"),
    [
        (
            {"is_logged_in": True, "email": "mallory@evil.com", "email_verified": True},
            "has no access to this dashboard",
        ),
        (
            {"is_logged_in": True, "email": "alice@example.com", "email_verified": False},
            "is not verified by the identity provider",
        ),
    ],
)
def test_an_oidc_user_outside_the_access_list_is_refused(
    store: Runtime, account: dict[str, Any], user: dict[str, Any], message: str
) -> None:
    app = _run(oidc_app(user))
    assert not app.dataframe
    assert message in texts(app)
    assert "Log out" in {b.label for b in app.button}


def test_an_oidc_admin_is_the_actor_in_the_audit_log(store: Runtime) -> None:
    app = _run(
        oidc_app({"is_logged_in": True, "email": "alice@example.com", "email_verified": True})
    )
    app.switch_page("app_pages/integrations.py")
    app = _run(app)
    by_label(app.text_input, "Account name").input("Globex Search")
    by_label(app.button, "Create account").click()
    _run(app)
    with store.db.read() as session:
        entries = audit.list_entries(session=session)
    assert [e.actor for e in entries] == ["alice@example.com"]

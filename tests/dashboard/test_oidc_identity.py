"""OIDC sign-in through AppTest (issue 12 item 4): an identity whose display name is an admin's
address, or whose email the provider did not verify, is not let in, neither as that admin nor as
anyone else; the admin with a verified email is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from tests.dashboard.conftest import OIDC_ADMIN, oidc_app, texts


@pytest.fixture
def acme(store: Runtime) -> None:
    with store.db.write() as session:
        accounts.create_account(session=session, name="Acme Talent", actor="t")


def _run(user: dict[str, Any]) -> AppTest:
    app = oidc_app(user)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _pages(app: AppTest) -> set[str]:
    return {Path(str(info["script_path"])).stem for info in app._registered_pages.values()}


@pytest.mark.parametrize(
    "user",
    [
        {"is_logged_in": True, "name": OIDC_ADMIN},
        {"is_logged_in": True, "name": OIDC_ADMIN, "email_verified": True},
        {"is_logged_in": True, "email": "", "name": OIDC_ADMIN, "email_verified": True},
        {
            "is_logged_in": True,
            "email": "mallory@evil.com",
            "name": OIDC_ADMIN,
            "email_verified": True,
        },
    ],
    ids=["name-only", "name-only-verified", "empty-email", "other-email"],
)
def test_a_display_name_that_is_an_admins_address_signs_nobody_in(
    acme: None, user: dict[str, Any]
) -> None:
    app = _run(user)
    assert not app.dataframe, "customer data shown to an unproven identity"
    assert "integrations" not in _pages(app)
    assert "Acme Talent" not in texts(app)


@pytest.mark.parametrize("verified", [None, False, "false"], ids=["missing", "false", "text"])
def test_an_admins_address_the_provider_did_not_verify_is_refused(
    acme: None, verified: object
) -> None:
    user: dict[str, Any] = {"is_logged_in": True, "email": OIDC_ADMIN}
    if verified is not None:
        user["email_verified"] = verified
    app = _run(user)
    assert not app.dataframe
    assert "is not verified by the identity provider" in texts(app)
    assert "Log out" in {button.label for button in app.button}


def test_the_admins_verified_email_signs_in_as_admin(acme: None) -> None:
    app = _run({"is_logged_in": True, "email": OIDC_ADMIN, "email_verified": True, "name": "Alice"})
    assert "integrations" in _pages(app)
    assert list(app.dataframe[0].value["Account"]) == ["Acme Talent"]

"""Who an OIDC sign-in proves to be (issue 12 item 4): the ``email`` claim only, and verified
only when the identity provider says so. A display name that reads like an admin's address, a
missing or false ``email_verified`` prove nothing."""

from __future__ import annotations

from typing import Any

import pytest

from sync_engine.services import auth

ADMIN = "alice@example.com"


@pytest.mark.parametrize(
    ("claims", "email"),
    [
        ({"is_logged_in": True, "email": ADMIN}, ADMIN),
        ({"is_logged_in": True, "email": "  Alice@Example.COM "}, ADMIN),
        ({"is_logged_in": True, "name": ADMIN}, None),
        ({"is_logged_in": True, "email": "", "name": ADMIN}, None),
        ({"is_logged_in": True, "email": None, "name": ADMIN}, None),
        ({"is_logged_in": True, "email": "Alice", "name": ADMIN}, None),
        ({"is_logged_in": True, "email": [ADMIN]}, None),
        ({"is_logged_in": False, "email": ADMIN}, None),
        ({"email": ADMIN}, None),
        ({}, None),
    ],
)
def test_the_identity_is_the_email_claim_never_the_name(
    claims: dict[str, Any], email: str | None
) -> None:
    assert auth.oidc_email(claims) == email


@pytest.mark.parametrize(
    ("verified", "expected"),
    [
        (True, True),
        ("true", True),
        ("TRUE", True),
        (False, False),
        ("false", False),
        (None, False),
        (1, False),
        ("yes", False),
    ],
)
def test_an_email_is_verified_only_when_the_provider_says_so(
    verified: object, expected: bool
) -> None:
    claims = {"is_logged_in": True, "email": ADMIN, "email_verified": verified}
    assert auth.oidc_email_verified(claims) is expected


def test_a_missing_email_verified_claim_is_not_verified() -> None:
    assert auth.oidc_email_verified({"is_logged_in": True, "email": ADMIN}) is False

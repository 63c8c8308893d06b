"""Dashboard users: argon2id password hashes (legacy scrypt ones still verify), the login
configuration read from secrets, and the admin-only check (pure functions, no store; the
wrong-password lockout is in ``test_login_throttle.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from sync_engine.services import auth
from sync_engine.services.auth import (
    AccessList,
    AuthConfigError,
    PermissionDeniedError,
    Role,
)
from sync_engine.services.errors import InvalidInputError

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def alice_hash() -> str:
    return auth.hash_password(PASSWORD)


def _secrets(alice_hash: str, **extra: Any) -> dict[str, Any]:
    return {
        "users": {
            "Alice": {"password_hash": alice_hash, "role": "admin"},
            "victor": {"password_hash": alice_hash, "role": "viewer"},
        },
        **extra,
    }


# --- hashing --------------------------------------------------------------------------------


def test_a_hash_verifies_its_password_and_nothing_else(alice_hash: str) -> None:
    assert alice_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not auth.needs_rehash(alice_hash)
    assert auth.verify_password(PASSWORD, alice_hash)
    assert not auth.verify_password(PASSWORD + " ", alice_hash)
    assert not auth.verify_password("", alice_hash)
    assert PASSWORD not in alice_hash


def test_each_hash_has_its_own_salt() -> None:
    first, second = auth.hash_password(PASSWORD), auth.hash_password(PASSWORD)
    assert first != second
    assert auth.verify_password(PASSWORD, first) and auth.verify_password(PASSWORD, second)


# Made by the scrypt hashing this module used before argon2 (PASSWORD, N=2**15, r=8, p=1).
LEGACY_HASH = "scrypt$32768$8$1$sIpP556mnq0b9ucgNx_NCQ$Jyx_-oSyuaP6Xi9eV7u1lZ-hNyVj2mLPxwq4Mii5StE"


def test_a_user_configured_with_a_scrypt_hash_still_signs_in_and_is_told_to_rehash() -> None:
    config = auth.load_login_config(
        {"users": {"alice": {"password_hash": LEGACY_HASH, "role": "admin"}}}
    )
    assert auth.authenticate(config, "alice", PASSWORD) == config.users["alice"]
    assert auth.authenticate(config, "alice", PASSWORD + "!") is None
    assert auth.needs_rehash(LEGACY_HASH)


SALT = "MDEyMzQ1Njc4OWFiY2RlZg"


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        ("", "expected an argon2id hash"),
        ("plain-text-password", "expected an argon2id hash"),
        ("bcrypt$2b$12$abc", "expected an argon2id hash"),
        ("$argon2id$v=19$m=65536,t=3,p=4$garbage", "unreadable"),
        (f"$argon2i$v=19$m=65536,t=3,p=4${SALT}$" + "A" * 43, "only argon2id"),
        (f"$argon2id$v=19$m=1024,t=3,p=4${SALT}$" + "A" * 43, "memory cost"),  # too cheap
        (f"$argon2id$v=19$m=4194304,t=3,p=4${SALT}$" + "A" * 43, "memory cost"),  # 4 GiB
        (f"$argon2id$v=19$m=65536,t=500,p=4${SALT}$" + "A" * 43, "time cost"),
        ("scrypt$32768$8$1$c2FsdA", "scrypt\\$N"),  # a part missing
        (f"scrypt$1024$8$1${SALT}$" + "A" * 43, "out of range"),  # too cheap
        (f"scrypt$30000$8$1${SALT}$" + "A" * 43, "out of range"),  # N not a power of two
        (f"scrypt$1048576$16$1${SALT}$" + "A" * 43, "256 MiB"),  # 2 GiB per login
        (f"scrypt$x$8$1${SALT}$" + "A" * 43, "unreadable"),
        ("scrypt$32768$8$1$c2FsdA$" + "A" * 43, "too short"),  # a 4-byte salt
    ],
)
def test_a_malformed_hash_is_refused_with_its_reason_and_never_verifies(
    encoded: str, reason: str
) -> None:
    with pytest.raises(AuthConfigError, match=reason):
        auth.load_login_config({"users": {"alice": {"password_hash": encoded, "role": "admin"}}})
    assert not auth.verify_password(PASSWORD, encoded)


def test_an_empty_password_is_not_hashed() -> None:
    with pytest.raises(InvalidInputError, match="empty"):
        auth.hash_password("")


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 12 characters"), ("  twelve chars  ", "start or end with a space")],
)
def test_weak_new_passwords_are_refused_with_the_reason(password: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        auth.check_new_password(password)
    auth.check_new_password(PASSWORD)


# --- the login configuration ----------------------------------------------------------------


def test_no_section_means_no_login_configured() -> None:
    config = auth.load_login_config({})
    assert not config.enabled and not config.oidc and not config.users


def test_password_users_are_read_with_lower_cased_names_and_roles(alice_hash: str) -> None:
    config = auth.load_login_config(_secrets(alice_hash))
    assert config.enabled and not config.oidc
    assert {name: user.role for name, user in config.users.items()} == {
        "alice": Role.ADMIN,
        "victor": Role.VIEWER,
    }
    assert alice_hash not in repr(config.users["alice"])


def test_an_auth_section_turns_oidc_on() -> None:
    config = auth.load_login_config({"auth": {"client_id": "x"}})
    assert config.enabled and config.oidc


@pytest.mark.parametrize(
    ("users", "message"),
    [
        ({"alice": {"password_hash": "secret", "role": "admin"}}, r"\[users.alice\]: password_hash"),
        ({"alice": {"role": "admin"}}, "password_hash is not usable"),
        ({"alice": {"password_hash": "HASH", "role": "owner"}}, "'viewer' or 'admin'"),
        ({"alice": {"password_hash": "HASH"}}, "'viewer' or 'admin'"),
        ({"Alice": {"password_hash": "HASH", "role": "admin"},
          "alice": {"password_hash": "HASH", "role": "viewer"}}, "listed twice"),
        ({"al ice": {"password_hash": "HASH", "role": "admin"}}, "a username is"),
        ({"alice": "HASH"}, "must set password_hash and role"),
    ],
)  # fmt: skip
def test_a_bad_user_entry_is_named_in_the_error(
    users: dict[str, Any], message: str, alice_hash: str
) -> None:
    for entry in users.values():
        if isinstance(entry, dict) and entry.get("password_hash") == "HASH":
            entry["password_hash"] = alice_hash
    with pytest.raises(AuthConfigError, match=message):
        auth.load_login_config({"users": users})


@pytest.mark.parametrize(
    ("access", "message"),
    [
        ({"admins": ["not-an-email"]}, "neither an email nor an @domain"),
        ({"viewers": 3}, "must be a list"),
        ("everyone", "must set admins and viewers"),
    ],
)
def test_a_bad_access_list_is_refused(access: Any, message: str) -> None:
    with pytest.raises(AuthConfigError, match=message):
        auth.load_login_config({"auth": {"client_id": "x"}, "access": access})


@pytest.mark.parametrize(
    ("email", "role"),
    [
        ("alice@example.com", Role.ADMIN),
        ("  Alice@Example.com ", Role.ADMIN),
        ("bob@example.com", Role.VIEWER),
        ("carol@partner.org", Role.VIEWER),
        ("mallory@evil.com", None),
        ("alice@example.com.evil.com", None),
        ("", None),
        (None, None),
    ],
)
def test_oidc_roles_come_from_the_access_list(email: str | None, role: Role | None) -> None:
    access = AccessList(
        admins=("alice@example.com",), viewers=("@example.com", "carol@partner.org")
    )
    assert access.role_for(email) == role


def test_access_entries_are_normalised_when_loaded() -> None:
    config = auth.load_login_config(
        {"auth": {"client_id": "x"}, "access": {"admins": "Alice@Example.com", "viewers": []}}
    )
    assert config.access.role_for("alice@example.com") == Role.ADMIN


# --- authentication -------------------------------------------------------------------------


def test_authenticate_accepts_the_right_password_whatever_the_name_case(alice_hash: str) -> None:
    config = auth.load_login_config(_secrets(alice_hash))
    user = auth.authenticate(config, " ALICE ", PASSWORD)
    assert user is not None and (user.name, user.role) == ("alice", Role.ADMIN)


def test_authenticate_refuses_a_wrong_password_and_an_unknown_user(alice_hash: str) -> None:
    config = auth.load_login_config(_secrets(alice_hash))
    assert auth.authenticate(config, "alice", "wrong password!") is None
    assert auth.authenticate(config, "nobody", PASSWORD) is None
    assert auth.authenticate(config, "", "") is None


# --- roles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.ADMIN, True), ("admin", True), (Role.VIEWER, False), ("viewer", False), (None, False)],
)
def test_only_admins_may_change_things(role: Role | str | None, allowed: bool) -> None:
    assert auth.is_admin(role) is allowed
    if allowed:
        auth.require_admin(role, action="retry contacts")
    else:
        with pytest.raises(PermissionDeniedError, match="Only an admin can retry contacts"):
            auth.require_admin(role, action="retry contacts")


def test_the_refusal_tells_a_viewer_their_role() -> None:
    with pytest.raises(PermissionDeniedError, match="signed in as a viewer"):
        auth.require_admin(Role.VIEWER)

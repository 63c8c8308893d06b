"""Who may use the dashboard, and what they may do: password hashes, login configuration, roles.

Pure: no Streamlit, no store, clocks passed in. The dashboard hands this module its secrets
(``.streamlit/secrets.toml``) as a plain mapping::

    [users.alice]                       # a password login (produce the hash with
    password_hash = "$argon2id$v=19$..."   #   python -m dashboard.hash_password)
    role = "admin"                      # or "viewer"

    [access]                            # who may come in through Streamlit's OIDC login ([auth])
    admins = ["alice@example.com"]
    viewers = ["@example.com"]          # "@domain" admits every address of that domain

Two roles: a *viewer* audits (status pages, logs, audit log, CSV export); an *admin* also
changes things (settings, credentials, retries, dismissals, re-syncs, backfills, reviews, demo
controls). An OIDC user is known by the provider's ``email`` claim only (never the display
name), and only once the provider says that address is verified. Passwords are hashed with
argon2id (argon2-cffi, its RFC 9106 low-memory profile); verification takes as long for an
unknown user as for a known one.

Hashes made before argon2 (``scrypt$N$r$p$salt$hash``) still verify, so configured users keep
working; :func:`needs_rehash` tells them apart, and ``python -m dashboard.hash_password`` makes
the argon2 replacement to paste over the old value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

from sync_engine.services.errors import InvalidInputError, ServiceError

MIN_PASSWORD_LENGTH = 12

_HASHER = argon2.PasswordHasher()  # argon2id, 64 MiB, 3 passes: ~0.1 s per hash
_MAX_MEMORY_KIB = 256 * 1024  # a configured hash may not make one login cost more
_MIN_MEMORY_KIB = 19 * 1024  # OWASP's floor for argon2id
_MAX_TIME_COST = 10

LEGACY_SCHEME = "scrypt"
_MAX_SCRYPT_MEMORY = 256 * 1024 * 1024

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,63}$")
_EMAIL_OR_DOMAIN = re.compile(r"^([^@\s]+)?@[^@\s]+\.[^@\s]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Role(StrEnum):
    """What a signed-in person may do: audit (viewer) or also change things (admin)."""

    VIEWER = "viewer"
    ADMIN = "admin"


class AuthConfigError(ServiceError):
    """The login configuration in the secrets is malformed; the message says where."""


class PermissionDeniedError(ServiceError):
    """The signed-in person's role does not allow the action."""


# --- password hashes ------------------------------------------------------------------------


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_new_password(password: str) -> None:
    """Refuse a password too weak to hash for a dashboard user (one clear message)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password:
        raise InvalidInputError("the password must not start or end with a space")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (``$argon2id$v=19$m=…``), with a fresh random salt."""
    if not password:
        raise InvalidInputError("the password is empty")
    return _HASHER.hash(password)


@dataclass(frozen=True)
class _LegacyScrypt:
    """A hash from before argon2: ``scrypt$N$r$p$salt$hash`` (urlsafe base64, no padding)."""

    n: int
    r: int
    p: int
    salt: bytes
    derived: bytes

    def verify(self, password: str) -> bool:
        derived = hashlib.scrypt(
            password.encode("utf-8"),
            salt=self.salt,
            n=self.n,
            r=self.r,
            p=self.p,
            maxmem=2 * 128 * self.n * self.r,
            dklen=len(self.derived),
        )
        return hmac.compare_digest(derived, self.derived)


def _check_argon2(encoded: str) -> None:
    """:class:`ValueError` with the reason when an argon2 hash is unreadable or out of range."""
    try:
        params = argon2.extract_parameters(encoded)
    except InvalidHashError:
        raise ValueError("the argon2 hash is unreadable") from None
    if params.type is not argon2.Type.ID:
        raise ValueError(
            "only argon2id hashes are accepted (from python -m dashboard.hash_password)"
        )
    if not _MIN_MEMORY_KIB <= params.memory_cost <= _MAX_MEMORY_KIB:
        raise ValueError("the argon2 memory cost is out of range (19 to 256 MiB)")
    if params.time_cost > _MAX_TIME_COST:
        raise ValueError(f"the argon2 time cost is out of range (at most {_MAX_TIME_COST})")


def _parse_scrypt(encoded: str) -> _LegacyScrypt:
    parts = encoded.split("$")
    if len(parts) != 6:
        raise ValueError("a scrypt hash is scrypt$N$r$p$salt$hash")
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt, derived = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise ValueError("the scrypt parameters or the base64 parts are unreadable") from None
    if n < 2**14 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError("the scrypt parameters are out of range (N a power of 2 from 16384)")
    if 128 * n * r > _MAX_SCRYPT_MEMORY:
        raise ValueError("the scrypt parameters would need more than 256 MiB per login")
    if len(salt) < 8 or len(derived) < 16:
        raise ValueError("the salt or the hash is too short")
    return _LegacyScrypt(n, r, p, salt, derived)


def _parse_hash(encoded: str) -> _LegacyScrypt | None:
    """None for a usable argon2id hash, the parts of a legacy scrypt one; :class:`ValueError`
    with the reason when it is neither."""
    encoded = encoded.strip()
    if encoded.startswith("$argon2"):
        _check_argon2(encoded)
        return None
    if encoded.startswith(f"{LEGACY_SCHEME}$"):
        return _parse_scrypt(encoded)
    raise ValueError(
        "expected an argon2id hash ($argon2id$..., from python -m dashboard.hash_password)"
    )


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches the encoded hash (False for a malformed hash too)."""
    try:
        legacy = _parse_hash(encoded)
    except ValueError:
        return False
    if legacy is not None:
        return legacy.verify(password)
    try:
        return _HASHER.verify(encoded.strip(), password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(encoded: str) -> bool:
    """Whether a working hash should be replaced: a legacy scrypt one, or argon2 with other
    parameters than :func:`hash_password` uses now."""
    encoded = encoded.strip()
    return not encoded.startswith("$argon2") or _HASHER.check_needs_rehash(encoded)


@cache
def _decoy_hash() -> str:
    """A hash nobody knows the password of: unknown users cost as much time as known ones."""
    return hash_password(secrets.token_urlsafe(24))


# --- who may sign in ------------------------------------------------------------------------


def normalize_username(name: str) -> str:
    """Usernames are compared trimmed and lower-cased."""
    return name.strip().lower()


def check_username(name: str) -> str:
    """The normalised username, or :class:`InvalidInputError` saying what a username may hold."""
    normalized = normalize_username(name)
    if not _USERNAME.match(normalized):
        raise InvalidInputError("a username is 1 to 64 letters, digits and . _ @ + -")
    return normalized


@dataclass(frozen=True)
class PasswordUser:
    """A dashboard user with a password: name, password hash and role."""

    name: str
    password_hash: str = field(repr=False)
    role: Role


@dataclass(frozen=True)
class AccessList:
    """Who may come in through OIDC: addresses or ``@domain`` entries, per role."""

    admins: tuple[str, ...] = ()
    viewers: tuple[str, ...] = ()

    def role_for(self, email: str | None) -> Role | None:
        """The role of a signed-in email, admin first; None when it is not listed."""
        if not email:
            return None
        email = email.strip().lower()
        domain = "@" + email.rpartition("@")[2]
        for role, entries in ((Role.ADMIN, self.admins), (Role.VIEWER, self.viewers)):
            if email in entries or domain in entries:
                return role
        return None


def oidc_email(claims: Mapping[str, Any]) -> str | None:
    """The address an OIDC sign-in proves: the ``email`` claim of a signed-in user, trimmed and
    lower-cased; None when there is no such claim or it is not an address.

    Never a display name: ``name`` is whatever the person typed at the provider, so an identity
    named after an admin's address must not pass for that admin."""
    if claims.get("is_logged_in") is not True:
        return None
    email = claims.get("email")
    if not isinstance(email, str):
        return None
    email = email.strip().lower()
    return email if _EMAIL.match(email) else None


def oidc_email_verified(claims: Mapping[str, Any]) -> bool:
    """Whether the identity provider says the ``email`` claim is verified: ``email_verified`` is
    true (some providers send the string "true"). Missing, false or anything else is not."""
    verified = claims.get("email_verified")
    return verified is True or (isinstance(verified, str) and verified.strip().lower() == "true")


@dataclass(frozen=True)
class LoginConfig:
    """How people sign in outside demo mode: OIDC (``[auth]``), passwords (``[users]``), both."""

    oidc: bool = False
    users: Mapping[str, PasswordUser] = field(default_factory=dict)
    access: AccessList = field(default_factory=AccessList)

    @property
    def enabled(self) -> bool:
        """Whether any login is configured (without one the dashboard shows nothing)."""
        return self.oidc or bool(self.users)


def _role(value: object, where: str) -> Role:
    try:
        return Role(str(value).strip().lower())
    except ValueError:
        raise AuthConfigError(f"{where}: role must be 'viewer' or 'admin', not {value!r}") from None


def _entries(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise AuthConfigError(f"{where} must be a list of emails or @domains")
    entries = []
    for entry in value:
        text = str(entry).strip().lower()
        if not _EMAIL_OR_DOMAIN.match(text):
            raise AuthConfigError(f"{where}: {entry!r} is neither an email nor an @domain")
        entries.append(text)
    return tuple(entries)


def load_login_config(values: Mapping[str, Any]) -> LoginConfig:
    """The login configuration from the dashboard's secrets, validated (:class:`AuthConfigError`
    names the first bad entry). ``[auth]`` is Streamlit's own OIDC section; it is only detected."""
    users: dict[str, PasswordUser] = {}
    section = values.get("users") or {}
    if not isinstance(section, Mapping):
        raise AuthConfigError("[users] must hold one table per user: [users.alice]")
    for raw_name, entry in section.items():
        where = f"[users.{raw_name}]"
        try:
            name = check_username(str(raw_name))
        except InvalidInputError as exc:
            raise AuthConfigError(f"{where}: {exc}") from None
        if name in users:
            raise AuthConfigError(f"{where}: the user is listed twice (names ignore case)")
        if not isinstance(entry, Mapping):
            raise AuthConfigError(f"{where} must set password_hash and role")
        encoded = str(entry.get("password_hash") or "")
        try:
            _parse_hash(encoded)
        except ValueError as exc:
            raise AuthConfigError(f"{where}: password_hash is not usable: {exc}") from None
        users[name] = PasswordUser(name, encoded, _role(entry.get("role"), where))
    access = values.get("access") or {}
    if not isinstance(access, Mapping):
        raise AuthConfigError("[access] must set admins and viewers lists")
    return LoginConfig(
        oidc=bool(values.get("auth")),
        users=users,
        access=AccessList(
            admins=_entries(access.get("admins", []), "[access] admins"),
            viewers=_entries(access.get("viewers", []), "[access] viewers"),
        ),
    )


def authenticate(config: LoginConfig, username: str, password: str) -> PasswordUser | None:
    """The user whose name and password these are, or None (unknown names take as long)."""
    user = config.users.get(normalize_username(username))
    if user is None:
        verify_password(password, _decoy_hash())
        return None
    return user if verify_password(password, user.password_hash) else None


# --- roles ----------------------------------------------------------------------------------


def is_admin(role: Role | str | None) -> bool:
    """Whether ``role`` may change things."""
    return role == Role.ADMIN


def require_admin(role: Role | str | None, *, action: str = "make changes") -> None:
    """Raise :class:`PermissionDeniedError` unless ``role`` is admin."""
    if not is_admin(role):
        you = "you are signed in as a viewer" if role == Role.VIEWER else "you are not an admin"
        raise PermissionDeniedError(f"Only an admin can {action}; {you}.")

"""Credentials at rest: Fernet encryption with a key from settings or a 0600 key file, and masking.

Only :class:`SecretBox` ever sees a credential in clear; everything shown to people goes through
:func:`mask`. A key is named by its source (the key file's absolute path or
``CWSYNC_ENCRYPTION_KEY``) and a fingerprint (a hash of the key that reveals nothing of it), which
the store keeps so that a wrong key is reported as such. A key file is generated only for a store
that holds no encrypted credentials yet: for any other, a missing key file is an error naming it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from sync_engine.config import Settings
from sync_engine.errors import ServiceError


class SecretKeyError(ServiceError):
    """The encryption key is missing, malformed or does not decrypt the stored credentials (a
    service error: pages and commands show its one-line message)."""


def key_fingerprint(key: bytes | str) -> str:
    """16 hex digits naming a key (a salted SHA-256 of it, safe to show and to store)."""
    raw = key.encode("ascii") if isinstance(key, str) else key
    return hashlib.sha256(b"clockwork-sync key fingerprint\0" + raw.strip()).hexdigest()[:16]


class SecretBox:
    """Encrypts and decrypts short secrets (API keys) with one Fernet key.

    ``store_fingerprint`` is set by the runtime to the fingerprint the store records, so a
    decryption failure can say that the key is the wrong one.
    """

    def __init__(self, key: bytes | str, *, source: str = "the configured key") -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SecretKeyError(
                f"the encryption key from {source} is not a valid Fernet key"
            ) from exc
        self.source = source
        self.fingerprint = key_fingerprint(key)
        self.store_fingerprint: str | None = None

    def cannot_decrypt(self) -> str:
        """Why stored credentials do not decrypt, naming the key and the one the store needs."""
        if self.store_fingerprint and self.store_fingerprint != self.fingerprint:
            return (
                f"the encryption key from {self.source} (fingerprint {self.fingerprint}) is not "
                "the key this store's credentials were encrypted with (fingerprint "
                f"{self.store_fingerprint}): restore that key, or re-enter the credentials"
            )
        return (
            f"stored credentials cannot be decrypted with the encryption key from {self.source} "
            f"(fingerprint {self.fingerprint}): restore the key they were encrypted with, or "
            "re-enter the credentials"
        )

    def encrypt(self, secret: str) -> str:
        """Return the token to store for ``secret``."""
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Return the secret behind a stored token."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as exc:
            raise SecretKeyError(self.cannot_decrypt()) from exc


def load_secret_box(settings: Settings, *, store_holds_credentials: bool = False) -> SecretBox:
    """The box for these settings: the configured key, else the key file. The key file is created
    (0600) when absent only if the store holds no encrypted credentials; otherwise its absence is
    a :class:`SecretKeyError` naming it (a new key would leave every credential unreadable)."""
    if settings.encryption_key is not None:
        return SecretBox(settings.encryption_key.get_secret_value(), source="CWSYNC_ENCRYPTION_KEY")
    path = settings.key_file.expanduser().absolute()
    key = _read_or_create_key_file(path, may_create=not store_holds_credentials)
    return SecretBox(key, source=f"the key file {path}")


def _read_or_create_key_file(path: Path, *, may_create: bool) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        if not may_create:
            raise SecretKeyError(
                f"the key file {path} does not exist, but the store holds credentials encrypted "
                "with a key: restore that file, or point CWSYNC_KEY_FILE (or CWSYNC_DATA_DIR, or "
                "CWSYNC_ENCRYPTION_KEY) at the key; a new key would leave them unreadable"
            ) from None
    except OSError as exc:
        raise SecretKeyError(f"the key file {path} cannot be read: {exc.strerror}") from None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def mask(secret: str | None) -> str:
    """``****`` and at most the last 4 characters: a quarter of the secret, so short ones show less."""
    if not secret:
        return ""
    shown = min(4, len(secret) // 4)
    return "****" + secret[len(secret) - shown :]

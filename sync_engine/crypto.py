"""Credentials at rest: Fernet encryption with a key from settings or a 0600 key file, and masking.

Only :class:`SecretBox` ever sees a credential in clear; everything shown to people goes through
:func:`mask`.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from sync_engine.config import Settings


class SecretKeyError(RuntimeError):
    """The encryption key is missing, malformed or does not decrypt the stored credentials."""


class SecretBox:
    """Encrypts and decrypts short secrets (API keys) with one Fernet key."""

    def __init__(self, key: bytes | str) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SecretKeyError("the encryption key is not a valid Fernet key") from exc

    def encrypt(self, secret: str) -> str:
        """Return the token to store for ``secret``."""
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Return the secret behind a stored token."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as exc:
            raise SecretKeyError(
                "stored credentials cannot be decrypted with the configured key"
            ) from exc


def load_secret_box(settings: Settings) -> SecretBox:
    """The box for these settings: the configured key, else the key file (created 0600 if absent)."""
    if settings.encryption_key is not None:
        return SecretBox(settings.encryption_key.get_secret_value())
    return SecretBox(_read_or_create_key_file(settings.key_file))


def _read_or_create_key_file(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def mask(secret: str | None) -> str:
    """``****`` and at most the last 4 characters: a quarter of the secret, so short ones show less."""
    if not secret:
        return ""
    shown = min(4, len(secret) // 4)
    return "****" + secret[len(secret) - shown :]

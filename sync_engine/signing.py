"""Standard Webhooks signatures: signing an outgoing delivery and verifying an incoming one.

The scheme (https://www.standardwebhooks.com/): a delivery carries ``webhook-id``,
``webhook-timestamp`` (Unix seconds) and ``webhook-signature``, a space-separated list of
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``. The secret is written ``whsec_<base64
key>``; the HMAC key is the decoded bytes. A timestamp further than the tolerance from now is
refused, so a captured delivery cannot be replayed later. The ingest API verifies with
:func:`verify`; the alerts feature signs its outgoing webhooks with :func:`sign`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 5 * 60


class SignatureError(ValueError):
    """A delivery's signature headers are missing, malformed, stale or do not match. The message
    is for logs and tests; callers answering a client say only that the request is unauthorised."""


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret (a secret without the prefix is taken as base64 too)."""
    encoded = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("the signing secret is not whsec_ followed by base64") from exc
    if not key:
        raise SignatureError("the signing secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one delivery: ``v1,<base64 HMAC-SHA256>``."""
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def verify(
    secret: str,
    msg_id: str | None,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Check one delivery's headers against the secret; raise :class:`SignatureError` if it fails.

    ``now`` is the current Unix time (passed in so tests use a fake clock). Any one of the
    space-separated ``v1,`` signatures matching is enough (a sender rotating its secret sends
    two); other versions are ignored.
    """
    if not msg_id or not timestamp or not signature:
        raise SignatureError("webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp is not a whole number of seconds") from exc
    if abs(now - sent_at) > tolerance:
        raise SignatureError("webhook-timestamp is outside the tolerance window")
    expected = sign(secret, msg_id, sent_at, body).encode("ascii")
    for candidate in signature.split():
        version, _, _value = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        if hmac.compare_digest(candidate.encode("ascii", "replace"), expected):
            return
    raise SignatureError("no webhook-signature matches")

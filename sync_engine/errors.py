"""The base of every error whose message is shown to people as is (a page, a command's output).

Below the services so that :mod:`sync_engine.crypto` (the store key) raises one without importing
the app-facing layer; :mod:`sync_engine.services.errors` builds its errors on it.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base: the message is safe to show to the user as is (never holds a secret)."""

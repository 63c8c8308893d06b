"""The composition root: settings, store, secret box, clock and Clockwork client factory in one place.

The CLI, the dashboard and the scheduler each build one :class:`Runtime` with :func:`build_runtime`
and hand its parts to the service functions. Tests build theirs with their own settings, clock and
an in-memory transport.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from sync_engine.clockwork.client import CallRecord, ClockworkClient, Credentials, Pacer
from sync_engine.config import Settings, get_settings
from sync_engine.crypto import SecretBox, load_secret_box
from sync_engine.db import Database, migrate
from sync_engine.models import utcnow

Clock = Callable[[], datetime]


@dataclass
class Runtime:
    """Everything a service call may need besides its own arguments."""

    settings: Settings
    db: Database
    box: SecretBox
    clock: Clock = utcnow
    transport: httpx.BaseTransport | None = field(default=None, repr=False)

    def client(
        self,
        credentials: Credentials,
        *,
        on_call: Callable[[CallRecord], None] | None = None,
        pacer: Pacer | None = None,
    ) -> ClockworkClient:
        """A Clockwork client for ``credentials`` with the configured timeout."""
        seconds = self.settings.http_timeout_seconds
        return ClockworkClient(
            credentials,
            transport=self.transport,
            timeout=httpx.Timeout(seconds, connect=min(5.0, seconds)),
            on_call=on_call,
            pacer=pacer,
            clock=self.clock,
        )

    def close(self) -> None:
        """Release pooled database connections."""
        self.db.dispose()


def build_runtime(
    settings: Settings | None = None,
    *,
    clock: Clock = utcnow,
    transport: httpx.BaseTransport | None = None,
) -> Runtime:
    """Open the store named by ``settings`` (migrating it to the newest schema) and wire the rest."""
    settings = settings or get_settings()
    db = Database(settings.database_url)
    migrate(db)
    return Runtime(
        settings=settings,
        db=db,
        box=load_secret_box(settings),
        clock=clock,
        transport=transport,
    )

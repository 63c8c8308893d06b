"""The composition root: settings, store, secret box, clock and Clockwork client factory in one place.

The CLI, the dashboard and the scheduler each build one :class:`Runtime` with :func:`build_runtime`
and hand its parts to the service functions. Tests build theirs with their own settings, clock and
an in-memory transport. Building a runtime checks the encryption key against the store: a missing
key file for a store holding credentials is a :class:`SecretKeyError`; a key that does not decrypt
them is recorded as :attr:`Runtime.key_problem` (the affected connections need their credentials
re-entered; everything else works).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from sync_engine.clockwork.client import CallRecord, ClockworkClient, Credentials, Pacer
from sync_engine.config import Settings, get_settings
from sync_engine.crypto import SecretBox, load_secret_box
from sync_engine.db import Database, migrate
from sync_engine.domain import Clock, utcnow
from sync_engine.store_meta import KeyProblem, check_key, holds_credentials


@dataclass
class Runtime:
    """Everything a service call may need besides its own arguments."""

    settings: Settings
    db: Database
    box: SecretBox
    transport: httpx.BaseTransport | None = field(default=None, repr=False)
    key_problem: KeyProblem | None = None

    def client(
        self,
        credentials: Credentials,
        *,
        on_call: Callable[[CallRecord], None] | None = None,
        pacer: Pacer | None = None,
        stop_at: Callable[[], float | None] | None = None,
    ) -> ClockworkClient:
        """A Clockwork client for ``credentials``: each request answered whole within the
        configured timeout, and none past ``stop_at()`` when given."""
        seconds = self.settings.http_timeout_seconds
        return ClockworkClient(
            credentials,
            transport=self.transport,
            timeout=httpx.Timeout(seconds, connect=min(5.0, seconds)),
            deadline_seconds=seconds,
            stop_at=stop_at,
            on_call=on_call,
            pacer=pacer,
            clock=self.clock,
        )

    @property
    def clock(self) -> Clock:
        """The clock of the runtime's store: one clock for the services and the engine."""
        return self.db.clock

    def close(self) -> None:
        """Release pooled database connections."""
        self.db.dispose()


def build_runtime(
    settings: Settings | None = None,
    *,
    clock: Clock = utcnow,
    transport: httpx.BaseTransport | None = None,
) -> Runtime:
    """Open the store named by ``settings`` (migrating it to the newest schema), load the key
    and check it against the store, and wire the rest."""
    settings = settings or get_settings()
    db = Database(settings.database_url, clock=clock)
    try:
        migrate(db)
        box = load_secret_box(settings, store_holds_credentials=holds_credentials(db))
        key_problem = check_key(db, box, clock=clock)
    except BaseException:
        db.dispose()
        raise
    return Runtime(
        settings=settings, db=db, box=box, transport=transport,
        key_problem=key_problem,
    )  # fmt: skip

"""Ingest API fixtures: the API on a real loopback socket over a fresh store (SQLite and
PostgreSQL), an account connected to the simulator, a token and a signing secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.ingest import credentials
from sync_engine.ingest.app import IngestConfig
from sync_engine.ingest.server import IngestServer
from sync_engine.runtime import Runtime
from sync_engine.signing import sign
from tests.factories import LOOPBACK_TLS, FakeClock, make_connected_account, make_runtime


@dataclass
class Api:
    """A running ingest API and what a client of it holds."""

    runtime: Runtime
    clock: FakeClock
    base_url: str
    account_id: int
    token: str
    token_id: int
    secret: str
    client: httpx.Client

    @property
    def root(self) -> str:
        """The account's routes."""
        return f"/v1/accounts/{self.account_id}"

    def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = None,
        headers: dict[str, str] | None = None, raw: bytes | None = None,
    ) -> httpx.Response:  # fmt: skip
        """A request with the account's bearer token (or ``token``)."""
        content = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        sent = {
            "Authorization": f"Bearer {token or self.token}",
            "Content-Type": "application/json",
        }
        return self.client.request(
            method, self.root + path, content=content, headers=sent | (headers or {})
        )

    def signed(
        self, path: str, body: Any, *, msg_id: str, timestamp: int | None = None,
        secret: str | None = None, method: str = "POST",
    ) -> httpx.Response:  # fmt: skip
        """A request (POST unless told) signed the Standard Webhooks way with the account's secret."""
        content = json.dumps(body).encode()
        ts = int(self.clock().timestamp()) if timestamp is None else timestamp
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(secret or self.secret, msg_id, ts, content),
            "Content-Type": "application/json",
        }
        return self.client.request(method, self.root + path, content=content, headers=headers)

    def put_sequence(
        self, ref: str = "seq-1", *, token: str | None = None, **fields: Any
    ) -> httpx.Response:
        """Create or change a sequence."""
        body = {"name": f"Sequence {ref}", **fields}
        return self.call("PUT", f"/sequences/{ref}", body, token=token)


def start_api(
    database_url: str, sim_server: SimulatorServer, config: IngestConfig | None = None
) -> Iterator[Api]:
    """An :class:`Api` over ``database_url``, stopped when the generator is closed."""
    clock = FakeClock()
    runtime = make_runtime(database_url, clock=clock, http_timeout_seconds=2)
    account_id = make_connected_account(runtime, base_url=sim_server.base_url)
    with runtime.db.write() as session:
        made = credentials.create_token(
            session=session, account_id=account_id, name="tests", actor="test"
        )
        secret = credentials.set_signing_secret(
            session=session, account_id=account_id, box=runtime.box, actor="test"
        )
    server = IngestServer(runtime, config=config)
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=10, verify=LOOPBACK_TLS) as client:
            yield Api(
                runtime, clock, server.base_url, account_id, made.token, made.id, secret, client
            )
    finally:
        server.stop()
        runtime.close()


@pytest.fixture
def api(database_url: str, sim_server: SimulatorServer, sim: SimulatorState) -> Iterator[Api]:
    """The API over a fresh store, once per backend."""
    yield from start_api(database_url, sim_server)


@pytest.fixture
def sqlite_api(sqlite_url: str, sim_server: SimulatorServer, sim: SimulatorState) -> Iterator[Api]:
    """The API over a fresh SQLite store (tests that are not about the backend)."""
    yield from start_api(sqlite_url, sim_server)

"""The simulator the dashboard embeds in demo mode: served on loopback in a thread, its state
saved to disk periodically and at stop, its port kept across restarts (so stored connections
keep pointing at it; :func:`repoint_demo_connections` moves them when the port changed)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from clockwork_simulator import FaultConfig, SimulatorServer, SimulatorState
from sync_engine.config import Settings
from sync_engine.demo.data import DEMO_ACTOR
from sync_engine.demo.guard import stored_connections
from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from sync_engine.services.errors import ServiceError

logger = logging.getLogger(__name__)

SAVE_EVERY_SECONDS = 15.0


class DemoSimulator:
    """The simulator the dashboard embeds: loopback, settings' latency, state kept on disk.

    The port of the previous run is reused when free (stored next to the state file), so stored
    connections keep pointing at it; :func:`repoint_demo_connections` fixes them when it is not.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._state_file = Path(settings.simulator_state_file)
        self._port_file = self._state_file.with_suffix(".port")
        self.state = SimulatorState()
        self._server: SimulatorServer | None = None
        self._stop = threading.Event()
        self._saver: threading.Thread | None = None
        self._save_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """Root URL of the running simulator (what a connection's base URL is set to)."""
        assert self._server is not None, "the demo simulator is not started"
        return self._server.base_url

    @property
    def server(self) -> SimulatorServer:
        """The running server (faults can be changed on it directly)."""
        assert self._server is not None, "the demo simulator is not started"
        return self._server

    def start(self) -> DemoSimulator:
        """Load the saved state, serve it, and start saving it periodically."""
        if self._state_file.exists():
            try:
                self.state.load(self._state_file)
            except (ValueError, KeyError, OSError) as exc:
                logger.warning("ignoring unreadable simulator state %s: %s", self._state_file, exc)
        faults = FaultConfig(latency_ms=self._settings.simulator_latency_ms)
        host = self._settings.simulator_host
        for port in dict.fromkeys((self._preferred_port(), 0)):
            server = SimulatorServer(self.state, host=host, port=port, faults=faults)
            try:
                server.start()
            except OSError:
                continue
            self._server = server
            break
        else:  # pragma: no cover - port 0 always binds
            raise RuntimeError("the demo simulator could not bind a port")
        self._port_file.parent.mkdir(parents=True, exist_ok=True)
        self._port_file.write_text(str(self.server.port))
        self._saver = threading.Thread(target=self._save_loop, name="simulator-saver", daemon=True)
        self._saver.start()
        return self

    def _preferred_port(self) -> int:
        if self._settings.simulator_port:
            return self._settings.simulator_port
        try:
            return int(self._port_file.read_text().strip())
        except (OSError, ValueError):
            return 0

    def _save_loop(self) -> None:
        while not self._stop.wait(SAVE_EVERY_SECONDS):
            self.save()

    def save(self) -> None:
        """Write the simulator's state to the state file now."""
        with self._save_lock:
            try:
                self.state.save(self._state_file)
            except OSError as exc:
                logger.warning("could not save simulator state: %s", exc)

    def stop(self) -> None:
        """Save the state and stop serving (idempotent)."""
        self._stop.set()
        if self._server is not None:
            self.save()
            self._server.stop()
            self._server = None


def repoint_demo_connections(runtime: Runtime, base_url: str) -> int:
    """Point connections to an earlier embedded simulator (a loopback URL) at ``base_url``.

    Each moves through :func:`accounts.reverify` (checked against the simulator, audited) with
    the credentials it holds; returns how many moved. Connections to anything else stay.
    """
    stale = [
        connection.account_id
        for connection in stored_connections(runtime)
        if connection.base_url != base_url
        and connection.base_url.startswith(("http://127.", "http://[::1]"))
    ]
    moved = 0
    for account_id in stale:
        try:
            accounts.reverify(runtime, account_id=account_id, base_url=base_url, actor=DEMO_ACTOR)
        except ServiceError as exc:
            logger.warning("demo account %s not re-pointed: %s", account_id, exc)
            continue
        moved += 1
    return moved

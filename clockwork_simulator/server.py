"""Running the simulator on a real socket: `SimulatorServer` in a background thread (demo, tests)
and `run_simulator` in the foreground (the ``cwsync simulator`` command).

Both bind to loopback unless told otherwise, serve the app from `app.create_app` with uvicorn
(its h11 protocol wrapped by `drip.DrippingH11Protocol`, so a dripped response drips whole; its
own ``Date`` header off, the app sends the simulator clock's), and by default the foreground run
registers one well-known demo firm.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import uvicorn

from clockwork_simulator.app import create_app
from clockwork_simulator.core import Simulator
from clockwork_simulator.drip import DrippingH11Protocol
from clockwork_simulator.faults import FaultConfig, FaultInjector
from clockwork_simulator.state import FirmCredentials, SimulatorState
from uvicorn_thread import ServedInThread, StartsAndStops, serve_in_thread

__all__ = [
    "DEMO_API_KEY",
    "DEMO_API_SECRET",
    "DEMO_CREDENTIALS",
    "DEMO_FIRM",
    "DEMO_FIRM_SERVICE_KEY",
    "SimulatorServer",
    "run_simulator",
]

logger = logging.getLogger(__name__)

DEMO_FIRM = "demo"
DEMO_API_KEY = "sim-api-key"
DEMO_API_SECRET = "sim-api-secret"
DEMO_FIRM_SERVICE_KEY = "sim-firm-service-key"
DEMO_CREDENTIALS = FirmCredentials(DEMO_FIRM, DEMO_API_KEY, DEMO_API_SECRET, DEMO_FIRM_SERVICE_KEY)

_INCOMPLETE_RESPONSE = "ASGI callable returned without completing response."


class _IntendedDropFilter(logging.Filter):
    """Hides uvicorn's error for responses the simulator cuts off on purpose (drop faults)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _INCOMPLETE_RESPONSE


_DROP_FILTER = _IntendedDropFilter()


def _quiet_intended_drops() -> None:
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if _DROP_FILTER not in uvicorn_errors.filters:
        uvicorn_errors.addFilter(_DROP_FILTER)


class SimulatorServer(StartsAndStops):
    """The simulator served by uvicorn in a background thread.

    ``port=0`` picks a free port, readable from `port` / `base_url` once started. State and
    faults can be changed while it runs (`use_state`, `set_faults`, or the admin routes).
    """

    def __init__(
        self,
        state: SimulatorState | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultConfig | None = None,
    ) -> None:
        self._simulator = Simulator(state or SimulatorState(), FaultInjector(faults))
        self._host = host
        self._requested_port = port
        self._served: ServedInThread | None = None

    @property
    def state(self) -> SimulatorState:
        """The store being served."""
        return self._simulator.state

    def use_state(self, state: SimulatorState) -> None:
        """Serve another store from the next request on (tests: a fresh state, no restart)."""
        self._simulator.state = state

    @property
    def faults(self) -> FaultConfig:
        """The fault config in force."""
        return self._simulator.faults.config

    def set_faults(self, config: FaultConfig | None) -> None:
        """Inject ``config`` for every firm from now on (None = no faults); drops the firms' own
        configs and restarts the rate-limit buckets."""
        self._simulator.faults.configure(config)

    def set_firm_faults(self, firm: str, config: FaultConfig | None) -> None:
        """Give ``firm`` a whole config of its own (None: back on the global one); others keep
        theirs."""
        self._simulator.faults.configure_firm(firm, config)

    @property
    def host(self) -> str:
        """The address the server binds to."""
        return self._host

    @property
    def port(self) -> int:
        """The bound port; only known once started when constructed with ``port=0``."""
        if self._served is None:
            raise RuntimeError("the simulator server is not started")
        return self._served.port

    @property
    def base_url(self) -> str:
        """Root URL of the server, e.g. ``http://127.0.0.1:54321`` (the contract lives under
        ``/v3.0/{firm}``, the admin surface under ``/_admin``)."""
        if self._served is None:
            raise RuntimeError("the simulator server is not started")
        return self._served.base_url

    def start(self, timeout: float = 10.0) -> None:
        """Start serving and return once the server accepts connections."""
        if self._served is not None:
            raise RuntimeError("the simulator server is already started")
        _quiet_intended_drops()
        config = uvicorn.Config(
            create_app(self._simulator),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            http=DrippingH11Protocol,
            date_header=False,
        )
        self._served = serve_in_thread(
            config,
            host=self._host,
            port=self._requested_port,
            what="the simulator server",
            thread_name="clockwork-simulator",
            timeout=timeout,
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the server thread to finish (idempotent)."""
        served, self._served = self._served, None
        if served is not None:
            served.stop(timeout)


def run_simulator(
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: FaultConfig | None = None,
    firms: Iterable[FirmCredentials] = (DEMO_CREDENTIALS,),
    *,
    state: SimulatorState | None = None,
    state_file: str | os.PathLike[str] | None = None,
    log_level: str = "info",
) -> None:
    """Serve the simulator in the foreground until interrupted (Ctrl-C).

    Registers each of ``firms`` that the state does not hold yet (by default the demo firm,
    `DEMO_CREDENTIALS`). With ``state_file``, the state is loaded from it when it exists and
    saved back to it on shutdown, so simulator data survives restarts.
    """
    state = state or SimulatorState()
    if state_file is not None and Path(state_file).exists():
        state.load(state_file)
    known = set(state.firms())
    for firm in firms:
        if firm.name not in known:
            state.add_firm(
                firm.name,
                api_key=firm.api_key,
                api_secret=firm.api_secret,
                firm_service_key=firm.firm_service_key,
            )
    _quiet_intended_drops()
    logger.info("Clockwork simulator serving firms %s on %s:%s", state.firms(), host, port)
    try:
        uvicorn.run(
            create_app(Simulator(state, FaultInjector(faults))),
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            http=DrippingH11Protocol,
            date_header=False,
        )
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: a normal stop
        pass
    finally:
        if state_file is not None:
            state.save(state_file)

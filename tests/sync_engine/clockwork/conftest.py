"""Shared fixtures for tests that talk to Clockwork: a fresh simulator store and a live server.

`sim_state` is a fresh `SimulatorState` holding one firm ("acme") with known credentials.
`simulator` serves that state on a real loopback socket: one uvicorn server per test session,
re-pointed at each test's fresh state with faults cleared, so tests stay isolated and fast.
`sim_credentials` carries what a client needs to connect to it; `sim_transport` is the same
simulator behind `httpx.MockTransport`, for unit tests without a socket.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from clockwork_simulator import SimulatorServer, SimulatorState, mock_transport

ACME_FIRM = "acme"
ACME_API_KEY = "acme-api-key"
ACME_API_SECRET = "acme-api-secret"
ACME_FIRM_SERVICE_KEY = "acme-firm-service-key"


@dataclass(frozen=True)
class SimCredentials:
    """Connection details of the test firm on the running simulator."""

    firm: str
    api_key: str
    api_secret: str
    firm_service_key: str
    base_url: str

    @property
    def firm_url(self) -> str:
        """The contract base for this firm, e.g. ``http://127.0.0.1:5000/v3.0/acme``."""
        return f"{self.base_url}/v3.0/{self.firm}"

    def auth_headers(self) -> dict[str, str]:
        """The headers every contract request carries (``X-API-Key`` + ``Authorization``)."""
        token = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        return {
            "X-API-Key": self.firm_service_key,
            "Authorization": f"Token {token}",
            "Accept": "application/json",
        }


@pytest.fixture
def sim_state() -> SimulatorState:
    """A fresh simulator store with firm "acme" (seeded projects) and known credentials."""
    state = SimulatorState()
    state.add_firm(
        ACME_FIRM,
        api_key=ACME_API_KEY,
        api_secret=ACME_API_SECRET,
        firm_service_key=ACME_FIRM_SERVICE_KEY,
    )
    return state


@pytest.fixture(scope="session")
def _simulator_server() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorState()) as server:
        yield server


@pytest.fixture
def simulator(
    _simulator_server: SimulatorServer, sim_state: SimulatorState
) -> Iterator[SimulatorServer]:
    """A started `SimulatorServer` on loopback serving this test's `sim_state`, no faults."""
    _simulator_server.use_state(sim_state)
    _simulator_server.set_faults(None)
    yield _simulator_server
    _simulator_server.set_faults(None)


@pytest.fixture
def sim_credentials(simulator: SimulatorServer) -> SimCredentials:
    """Firm, keys and base URL of the "acme" firm on the live `simulator`."""
    return SimCredentials(
        firm=ACME_FIRM,
        api_key=ACME_API_KEY,
        api_secret=ACME_API_SECRET,
        firm_service_key=ACME_FIRM_SERVICE_KEY,
        base_url=simulator.base_url,
    )


@pytest.fixture
def sim_transport(sim_state: SimulatorState) -> httpx.MockTransport:
    """The simulator over `sim_state` as an `httpx.MockTransport` (no socket, no faults)."""
    return mock_transport(sim_state)

"""The Clockwork simulator: a stand-alone fake of the Clockwork REST API (``shared/clockwork_api.md``).

One transport-independent handler (`Simulator`) over an in-memory store (`SimulatorState`),
served on a real loopback socket (`SimulatorServer`, `run_simulator`) or behind
`httpx.MockTransport` (`mock_transport`), with injectable faults (`FaultConfig`). It rejects
anything outside the contract loudly, so client bugs surface in tests and demos.
"""

from clockwork_simulator.app import create_app
from clockwork_simulator.core import ROUTE_TEMPLATES, SimRequest, SimResponse, Simulator
from clockwork_simulator.faults import FaultConfig, FaultDecision, FaultInjector
from clockwork_simulator.mock import mock_transport
from clockwork_simulator.server import (
    DEMO_API_KEY,
    DEMO_API_SECRET,
    DEMO_CREDENTIALS,
    DEMO_FIRM,
    DEMO_FIRM_SERVICE_KEY,
    SimulatorServer,
    run_simulator,
)
from clockwork_simulator.state import (
    FirmCredentials,
    RecordInvalid,
    SimulatorState,
    UnknownFirm,
    UnknownRecord,
)

__all__ = [
    "DEMO_API_KEY",
    "DEMO_API_SECRET",
    "DEMO_CREDENTIALS",
    "DEMO_FIRM",
    "DEMO_FIRM_SERVICE_KEY",
    "ROUTE_TEMPLATES",
    "FaultConfig",
    "FaultDecision",
    "FaultInjector",
    "FirmCredentials",
    "RecordInvalid",
    "SimRequest",
    "SimResponse",
    "Simulator",
    "SimulatorServer",
    "SimulatorState",
    "UnknownFirm",
    "UnknownRecord",
    "create_app",
    "mock_transport",
    "run_simulator",
]

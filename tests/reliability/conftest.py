"""Fixtures for the reliability suites: the simulator on a real loopback socket, fresh per test.

The ``slow`` marker is registered here (the suites that spawn processes or push 50,000 rows use
it), so ``-m "not slow"`` gives a quick run without touching the project's pytest settings.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync_engine.clockwork.simulator import SimulatorServer, SimulatorState
from tests.factories import make_sim_state


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes several seconds (processes, big files)")


@pytest.fixture(scope="session")
def sim_server() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorState()) as server:
        yield server


@pytest.fixture
def sim(sim_server: SimulatorServer) -> Iterator[SimulatorState]:
    """This test's Clockwork: a fresh firm (``SIM_FIRM``) on the shared socket, no faults."""
    state = make_sim_state()
    sim_server.use_state(state)
    sim_server.set_faults(None)
    yield state
    sim_server.set_faults(None)

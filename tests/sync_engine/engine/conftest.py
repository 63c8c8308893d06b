"""Engine fixtures: a runtime on a fresh store, talking to the simulator on a real loopback socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clockwork_simulator import SimulatorState
from sync_engine.engine.passes import Engine
from sync_engine.engine.pipeline import PipelineConfig
from sync_engine.runtime import Runtime
from tests.factories import FakeClock, make_runtime


@pytest.fixture
def rt(sqlite_url: str, clock: FakeClock, sim: SimulatorState) -> Iterator[Runtime]:
    runtime = make_runtime(sqlite_url, clock=clock, default_max_rps=500, http_timeout_seconds=2)
    yield runtime
    runtime.close()


@pytest.fixture
def engine(rt: Runtime) -> Engine:
    return Engine(rt, config=PipelineConfig(max_attempts=3, backoff_base=2, backoff_cap=60))

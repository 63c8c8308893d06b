"""Alert fixtures: a runtime on a fresh store (both backends) and a receiver on a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync_engine.runtime import Runtime
from tests.alerts.receiver import Receiver
from tests.factories import FakeClock, make_account, make_runtime


@pytest.fixture
def rt(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    runtime = make_runtime(database_url, clock=clock)
    yield runtime
    runtime.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def account_id(rt: Runtime) -> int:
    return make_account(rt)

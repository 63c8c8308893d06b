"""Demo fixtures: a runtime on the test's SQLite store, reaching the demo's simulator (the
``demo_simulator`` of ``tests/conftest.py``) over its loopback socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sync_engine.runtime import Runtime
from tests.factories import make_runtime


@pytest.fixture
def rt(sqlite_url: str) -> Iterator[Runtime]:
    runtime = make_runtime(sqlite_url)
    yield runtime
    runtime.close()

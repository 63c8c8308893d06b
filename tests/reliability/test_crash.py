"""SPEC R8 under real process kills: the CI-sized run of ``bench/crash_suite.py``.

``cwsync simulator`` and ``cwsync sync --until-idle`` run as processes; the sync is killed with
SIGKILL five times (right after Clockwork received a ``POST /people``, at random, right after a
note, an email, at start-up), restarted each time, then run to completion. Clockwork must hold one
person per email, one candidacy per (person, project), one note per activity, and every
enrollment must be synced.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "crash_suite.py"


def _crash_suite() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_suite", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_five_sigkills_lose_nothing_and_duplicate_nothing() -> None:
    summary = _crash_suite().run_crash_suite(
        kills=5, contacts=24, wave=6, latency_ms=60, lease_seconds=1.5, seed=7, log=print
    )
    print("\ncrash " + json.dumps({k: v for k, v in summary.items() if k != "kill_log"}))
    assert summary["kills"] == 5
    assert summary["kills_in_window"] >= 3  # aimed kills landed while a write was in flight
    assert summary["final_sync_exit"] == 0
    assert summary["statuses"] == {"synced": summary["enrollments"]}
    assert (summary["duplicates"], summary["losses"]) == (0, 0), summary["loss_details"]
    assert summary["persons"] == summary["persons_expected"]

"""``bench/ingest.py`` refuses a store it does not know, naming the ones it does (a typo printed
an empty table)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ingest.py"


def test_an_unknown_store_is_an_error_naming_the_valid_ones() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--stores", "sqlite,postgres"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown store postgres: choose from sqlite, postgresql" in done.stderr
    assert "events/s" not in done.stdout  # nothing was run

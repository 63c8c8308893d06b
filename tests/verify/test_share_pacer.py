"""A verification's pacer never takes more than its share of the firm's requests."""

from __future__ import annotations

import time

import pytest

from sync_engine.engine.pacing import TokenBucket
from sync_engine.verify import runs
from sync_engine.verify.runs import SharePacer


def test_beside_the_firms_pacer_it_keeps_to_its_share_in_every_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runs, "SHARE_WINDOW", 0.5)
    firm = TokenBucket(1000.0)  # the firm itself would allow far more
    pacer = SharePacer(100.0, 0.5, firm)
    assert pacer.limit == 25
    times = []
    for _ in range(60):
        pacer.acquire()
        times.append(time.monotonic())
    for first, later in zip(times, times[pacer.limit :], strict=False):
        assert later - first >= 0.5 - 1e-3, "more than its share within one window"


def test_alone_it_spaces_its_requests_at_its_share_of_the_rate() -> None:
    pacer = SharePacer(20.0, 0.5)  # 10 req/s
    started = time.monotonic()
    for _ in range(6):
        pacer.acquire()
    assert time.monotonic() - started >= 0.45

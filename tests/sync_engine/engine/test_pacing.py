"""Pacing per connection: a steady budget, Retry-After honoured, AIMD when the limit is unknown."""

from __future__ import annotations

import pytest

from sync_engine.engine.backoff import retry_delay
from sync_engine.engine.pacing import CLIMB, CUT, PROBE, PacingDeferred, TokenBucket


class ManualTime:
    """A monotonic clock and a sleep that only advance it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_requests_are_spaced_to_the_budget() -> None:
    t = ManualTime()
    bucket = TokenBucket(4.0, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        bucket.acquire()
    assert t.now == pytest.approx(101.0)  # 5 requests at 4/s: the fifth goes out at +1 s


def test_retry_after_blocks_and_a_long_wait_is_deferred_not_slept() -> None:
    t = ManualTime()
    bucket = TokenBucket(10.0, max_wait=2.0, clock=t.clock, sleep=t.sleep)
    bucket.throttled(30.0)
    with pytest.raises(PacingDeferred) as deferred:
        bucket.acquire()
    assert deferred.value.delay == pytest.approx(30.0)
    assert t.slept == []
    t.now += 30
    bucket.acquire()


def test_unknown_limit_starts_fast_then_settles_under_the_first_429() -> None:
    t = ManualTime()
    bucket = TokenBucket(10.0, adaptive=True, clock=t.clock, sleep=t.sleep)
    for _ in range(50):  # about four seconds of sending: +25% a second
        bucket.acquire()
    raised = bucket.rate
    assert raised >= 10.0 * 1.25**3
    bucket.throttled(None)
    assert bucket.rate == pytest.approx(raised * CUT)
    settled = bucket.rate
    for _ in range(100):  # after a 429, growth is slower: CLIMB a second
        bucket.acquire()
    assert settled < bucket.rate < settled * CLIMB**10


def test_near_the_last_429s_pace_it_probes_slowly() -> None:
    t = ManualTime()
    bucket = TokenBucket(20.0, adaptive=True, clock=t.clock, sleep=t.sleep)
    bucket.throttled(0.0)  # ceiling 20, pace 15
    rates = []
    for _ in range(20 * 35):  # about 40 seconds of sending
        bucket.acquire()
        rates.append(bucket.rate)
    climbed = next(i for i, rate in enumerate(rates) if rate >= 20.0 * 0.95)
    assert rates[climbed - 1] < 19.0  # CLIMB a second up to 95% of the ceiling
    seconds_left = t.now - 100.0  # at most this long since the crossing
    assert bucket.rate < rates[climbed] * PROBE**seconds_left  # then PROBE a second at most


def test_a_slow_firm_is_probed_per_request_not_per_second() -> None:
    t = ManualTime()
    bucket = TokenBucket(1.0, adaptive=True, min_rate=0.1, max_wait=5, clock=t.clock, sleep=t.sleep)
    bucket.throttled(0.0)  # ceiling 1 req/s, pace 0.75
    for _ in range(30):  # about 35 seconds: CLIMB to 95% of the ceiling
        bucket.acquire()
    near = bucket.rate
    assert near >= 0.95
    for _ in range(60):  # another minute: 1 req/s is probed a tenth as fast as 10 req/s
        bucket.acquire()
    assert bucket.rate < near * PROBE ** (70 * 0.1)


def test_a_firm_refusing_most_requests_drops_to_the_pace_it_answered() -> None:
    t = ManualTime()
    bucket = TokenBucket(10.0, adaptive=True, max_wait=5, clock=t.clock, sleep=t.sleep)
    last_answer = float("-inf")
    for _ in range(30):  # Clockwork answers one request a second and refuses the rest
        bucket.acquire()
        if t.now - last_answer >= 1.0:
            bucket.answered()
            last_answer = t.now
        else:
            bucket.throttled(0.0)
    assert 0.5 <= bucket.rate <= 1.3  # from 10: the answered pace, less a cut for a late 429


def test_a_told_budget_does_not_adapt() -> None:
    t = ManualTime()
    bucket = TokenBucket(5.0, adaptive=False, clock=t.clock, sleep=t.sleep)
    for _ in range(50):
        bucket.acquire()
    bucket.throttled(1.0)
    assert bucket.rate == 5.0


@pytest.mark.parametrize("attempt", [1, 2, 3, 6, 20])
def test_backoff_grows_with_jitter_within_bounds(attempt: int) -> None:
    import random

    rng = random.Random(7)
    step = min(900.0, 2.0 * 2 ** (attempt - 1))
    delays = [retry_delay(attempt, base=2, cap=900, rng=rng) for _ in range(50)]
    assert all(step / 2 <= d <= step for d in delays)
    assert len(set(delays)) > 1  # jittered


def test_backoff_never_sooner_than_retry_after() -> None:
    assert retry_delay(1, base=2, cap=900, retry_after=120) == 120


def test_a_burst_of_429s_is_one_slow_down_signal() -> None:
    t = ManualTime()
    bucket = TokenBucket(20.0, adaptive=True, clock=t.clock, sleep=t.sleep)
    for _ in range(30):  # a firm mostly answering
        bucket.answered()
    for _ in range(5):  # answers to requests already in flight arrive together
        bucket.throttled(0.0)
    assert bucket.rate == pytest.approx(20.0 * CUT)
    t.now += 1.5
    bucket.throttled(0.0)
    assert bucket.rate == pytest.approx(20.0 * CUT * CUT)


def test_a_long_run_of_answers_keeps_only_the_recent_ones() -> None:
    # The engine lives as long as the dashboard: a firm answering for days must not grow memory.
    t = ManualTime()
    bucket = TokenBucket(50.0, clock=t.clock, sleep=t.sleep)
    for _ in range(5000):  # 100 s at 50/s
        bucket.acquire()
        bucket.answered()
    assert len(bucket._answered) <= 50 * 4

"""Per-connection request pacing: a token bucket that keeps a Clockwork firm under its rate limit.

It implements the client's ``Pacer`` protocol. With a budget told (``max_rps``) it holds that pace;
without one it adapts: it grows its pace by a quarter each second until the first 429 (a slow
start), then remembers that rate as the ceiling, drops to 75% of it and creeps back up by 2% a
second, and by only 0.5% a second within 5% of the ceiling, so it settles just under an unknown
limit and probes it rarely (``bench/sync_throughput.py``: about 1% of requests answered 429).
A wait longer than ``max_wait`` is not slept through: :class:`PacingDeferred` tells the engine to
put the work back until then, so one throttled account never ties up the workers of the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

SLOW_START = 1.25  # growth per second until the first 429
CUT = 0.75  # the pace after a burst of 429s, as a share of the pace that drew it
CLIMB = 1.02  # growth per second after that, while well under the last 429's pace
NEAR_CEILING = 0.95  # "well under": below this share of it
PROBE = 1.005  # growth per second close to it


class PacingDeferred(Exception):
    """The connection may not send for a while; retry the work at ``until`` (monotonic seconds)."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"paced: next request allowed in {delay:.1f}s")
        self.delay = delay


class TokenBucket:
    """A thread-safe token bucket with an optional adaptive rate."""

    def __init__(
        self,
        rate: float,
        *,
        adaptive: bool = False,
        min_rate: float = 0.5,
        max_rate: float = 200.0,
        max_wait: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.adaptive = adaptive
        self.min_rate = min_rate
        self.max_rate = max_rate
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free = clock()
        self._blocked_until = 0.0
        self._ceiling: float | None = None
        self._last_raise = clock()
        self._last_cut = float("-inf")

    def acquire(self) -> None:
        """Reserve the next send slot and wait for it; raise :class:`PacingDeferred` if far off."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_free, self._blocked_until)
            wait = slot - now
            if wait > self.max_wait:
                raise PacingDeferred(wait)
            self._next_free = slot + 1.0 / self.rate
            if self.adaptive and now - self._last_raise >= 1.0:
                self._last_raise = now
                self.rate = min(self.max_rate, self.rate * self._growth())
        if wait > 0:
            self._sleep(wait)

    def _growth(self) -> float:
        if self._ceiling is None:
            return SLOW_START
        return CLIMB if self.rate < self._ceiling * NEAR_CEILING else PROBE

    def throttled(self, retry_after: float | None) -> None:
        """Clockwork answered 429: stop sending until Retry-After passes, and slow down if adapting."""
        with self._lock:
            now = self._clock()
            pause = retry_after if retry_after is not None else 1.0 / self.rate * 4
            self._blocked_until = max(self._blocked_until, now + pause)
            # One burst of 429s (answers to requests already in flight) is one signal, not many.
            if self.adaptive and now - self._last_cut >= 1.0:
                self._ceiling = self.rate
                self.rate = max(self.min_rate, self.rate * CUT)
                self._last_raise = self._last_cut = now

    def set_rate(self, rate: float, *, adaptive: bool) -> None:
        """Change the budget (settings changed between passes)."""
        with self._lock:
            if adaptive != self.adaptive or not adaptive:
                self.rate = rate
            self.adaptive = adaptive

"""Per-connection request pacing: a token bucket that keeps a Clockwork firm under its rate limit.

It implements the client's ``Pacer`` protocol. With a budget told (``max_rps``) it holds that pace;
without one it adapts: it grows its pace by a quarter each second until the first 429 (a slow
start), then remembers that rate as the ceiling, drops to 75% of it and creeps back up by 2% a
second, and by only 0.5% a second within 5% of the ceiling, so it settles just under an unknown
limit and probes it rarely.
When most of its recent requests drew 429s, it drops at once to the pace Clockwork actually
answered, so a firm with a far lower limit than the default is found in a step or two. Close to
the last 429's pace it probes by a share per request, not per second, so a firm allowing one
request a second is probed as rarely, in requests, as one allowing ten.

A wait longer than ``max_wait`` is not slept through: :class:`PacingDeferred` tells the engine to
put the work back until then. The engine also asks :meth:`TokenBucket.ready_in` before it takes
work for a firm, so work is only taken for firms that can send now.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

SLOW_START = 1.25  # growth per second until the first 429
CUT = 0.75  # the pace after a burst of 429s, as a share of the pace that drew it
CLIMB = 1.05  # growth per second after that, while well under the last 429's pace
NEAR_CEILING = 0.95  # "well under": below this share of it
PROBE = 1.005  # growth per second close to it
WINDOW = 3.0  # seconds of recent answers the accepted pace is measured over
PROBE_REFERENCE = 10.0  # req/s at which PROBE applies per second in full; slower firms, less
MOSTLY_REFUSED = 0.2  # a share of 429s above which the accepted pace replaces the cut
MIN_RATE, MAX_RATE = 0.05, 1000.0  # any budget, told or learned, is kept within these


class PacingDeferred(Exception):
    """The connection may not send for a while; retry the work at ``until`` (monotonic seconds)."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"paced: next request allowed in {delay:.1f}s")
        self.delay = delay


class TokenBucket:
    """A thread-safe pacer spacing requests ``1 / rate`` apart, with an optional adaptive rate.

    Nothing is reserved while a caller sleeps: each wakes, looks again and sends only if the
    slot is still free, so a 429 that blocks the firm holds back every caller already waiting.
    """

    def __init__(
        self,
        rate: float,
        *,
        adaptive: bool = False,
        min_rate: float = 0.5,
        max_rate: float = 200.0,
        max_wait: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = _clamp(rate)
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
        self._answered: deque[float] = deque()
        self._refused: deque[float] = deque()

    def ready_in(self) -> float:
        """Seconds until the next request may be sent (0: now)."""
        with self._lock:
            return max(0.0, self._next_free - self._clock(), self._blocked_until - self._clock())

    def acquire(self) -> None:
        """Take the next send slot, sleeping until it comes; raise :class:`PacingDeferred` if
        it is more than ``max_wait`` away."""
        while True:
            with self._lock:
                now = self._clock()
                wait = max(self._next_free, self._blocked_until) - now
                if wait > self.max_wait:
                    raise PacingDeferred(wait)
                if wait <= 0:
                    self._next_free = max(self._next_free, now) + 1.0 / self.rate
                    if self.adaptive and now - self._last_raise >= 1.0:
                        self._last_raise = now
                        self.rate = min(self.max_rate, self.rate * self._growth())
                    return
            self._sleep(wait)

    def _growth(self) -> float:
        if self._ceiling is None:
            return SLOW_START
        if self.rate < self._ceiling * NEAR_CEILING:
            return CLIMB
        return float(PROBE ** min(1.0, self.rate / PROBE_REFERENCE))

    def answered(self) -> None:
        """Clockwork answered without asking to slow down."""
        with self._lock:
            now = self._clock()
            self._answered.append(now)
            while self._answered[0] < now - WINDOW:  # only the recent ones are ever counted
                self._answered.popleft()

    def throttled(self, retry_after: float | None) -> None:
        """Clockwork answered 429: stop sending until Retry-After passes, and slow down if adapting."""
        with self._lock:
            now = self._clock()
            self._refused.append(now)
            pause = retry_after if retry_after is not None else 1.0 / self.rate * 4
            self._blocked_until = max(self._blocked_until, now + pause)
            if not self.adaptive:
                return
            # One burst of 429s (answers to requests already in flight) is one signal, not many.
            if now - self._last_cut >= 1.0:
                self._ceiling = self.rate
                self.rate = max(self.min_rate, self.rate * CUT)
                self._last_raise = self._last_cut = now
            # The pace Clockwork answered is no multiple of ours, so it applies at every 429.
            accepted = self._accepted_rate(now)
            if accepted is not None and accepted < self.rate:
                self.rate = max(self.min_rate, accepted)
                self._ceiling = self.rate  # where to probe from: what Clockwork answered
                self._last_raise = now

    def _accepted_rate(self, now: float) -> float | None:
        """Requests/s Clockwork answered lately, when many were refused (None otherwise)."""
        for times in (self._answered, self._refused):
            while times and times[0] < now - WINDOW:
                times.popleft()
        answers = len(self._answered) + len(self._refused)
        if answers < 3 or len(self._refused) < MOSTLY_REFUSED * answers:
            return None
        first = min(times[0] for times in (self._answered, self._refused) if times)
        return len(self._answered) / max(now - first, 1.0)

    def learned(self) -> tuple[float, float] | None:
        """(rate, ceiling) once an adaptive pace has drawn a 429: what another engine taking
        the firm over should start from (None while told, or before the first 429)."""
        with self._lock:
            if not self.adaptive or self._ceiling is None:
                return None
            return self.rate, self._ceiling

    def adopt(self, rate: float, ceiling: float) -> None:
        """Start from a pace learned elsewhere (another engine held the firm), as if this
        bucket had drawn that 429 itself; a told budget ignores it."""
        with self._lock:
            if not self.adaptive:
                return
            self.rate = max(self.min_rate, min(_clamp(rate), self.max_rate))
            self._ceiling = max(self.min_rate, min(_clamp(ceiling), self.max_rate))
            self._last_raise = self._clock()

    def set_rate(self, rate: float, *, adaptive: bool) -> None:
        """Change the budget (settings changed between passes)."""
        with self._lock:
            if adaptive != self.adaptive or not adaptive:
                self.rate = _clamp(rate)
            self.adaptive = adaptive


def _clamp(rate: float) -> float:
    if not math.isfinite(rate):
        return MAX_RATE
    return min(max(rate, MIN_RATE), MAX_RATE)

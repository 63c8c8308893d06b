"""Token buckets: per API token (or per account's signing secret) for the requests a caller
makes, and per client address for the authentications that fail there.

In memory, per process: N ``cwsync serve`` processes give each caller N buckets. The clock is
passed in (monotonic seconds) so tests move it instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` requests per second per key, bursts of up to ``burst``; at most ``max_keys``
    buckets are kept (full ones are forgotten first: a key seen again starts full anyway)."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:  # fmt: skip
        if rate <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def _forget_full(self, now: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst
        ]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]

    def acquire(self, key: str) -> float:
        """Take one request from ``key``'s bucket: 0 when allowed, else the seconds to wait."""
        with self._lock:
            bucket = self._refilled(key, self._clock())
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

    def wait(self, key: str) -> float:
        """The seconds until ``key`` may take one again (0: now), taking nothing."""
        with self._lock:
            if key not in self._buckets:
                return 0.0
            bucket = self._refilled(key, self._clock())
            return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate


def retry_after_header(wait: float) -> str:
    """``Retry-After`` in whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))

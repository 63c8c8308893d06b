"""Fault injection for the Clockwork simulator: what can go wrong, and when it does.

`FaultConfig` is the validated description (latency, a per-firm token-bucket rate limit, and the
probabilities of a 5xx, a dropped connection and a response slower than the client's timeout).
`FaultInjector` turns it into one `FaultDecision` per request, from a seedable `random.Random`
so tests are deterministic; the transports (`app`, `mock`) carry the decision out.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["NO_FAULT", "FaultConfig", "FaultDecision", "FaultInjector"]


class FaultConfig(BaseModel):
    """Faults the simulator injects; the defaults inject none.

    A 429 or 5xx is answered instead of serving the request. A drop or a slow response serves
    the request first (the write happens), then breaks the connection mid-body or answers only
    after ``slow_seconds`` — exactly the cases where a client cannot know whether a write landed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0, description="fixed delay added to every response")
    jitter_ms: float = Field(
        default=0.0, ge=0, description="extra uniform random delay, 0..jitter_ms"
    )
    rate_limit_rps: float | None = Field(
        default=None, gt=0, description="per-firm requests/s; None = off"
    )
    burst: int | None = Field(
        default=None, ge=1, description="bucket size; default ceil(rate_limit_rps)"
    )
    retry_after: Literal["seconds", "http_date", "none"] = Field(
        default="seconds", description="form of the Retry-After header on a 429"
    )
    error_rate: float = Field(default=0.0, ge=0, le=1, description="probability of a 5xx")
    error_statuses: tuple[int, ...] = Field(default=(500, 502, 503), min_length=1)
    drop_rate: float = Field(
        default=0.0, ge=0, le=1, description="probability of a dropped connection"
    )
    slow_rate: float = Field(default=0.0, ge=0, le=1, description="probability of a slow response")
    slow_seconds: float = Field(default=30.0, gt=0, description="how long a slow response takes")
    seed: int | None = Field(default=None, description="seed of the random draws; None = unseeded")

    @model_validator(mode="after")
    def _check_consistency(self) -> FaultConfig:
        if any(not 500 <= status <= 599 for status in self.error_statuses):
            raise ValueError("error_statuses must all be 5xx")
        if self.error_rate + self.drop_rate + self.slow_rate > 1:
            raise ValueError("error_rate + drop_rate + slow_rate must not exceed 1")
        if self.burst is not None and self.rate_limit_rps is None:
            raise ValueError("burst needs rate_limit_rps")
        return self

    @property
    def bucket_size(self) -> int:
        """Tokens a firm may spend at once under the rate limit."""
        if self.burst is not None:
            return self.burst
        return max(1, math.ceil(self.rate_limit_rps or 1))


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do to one request. ``status`` set → answer it instead of serving the request."""

    delay: float = 0.0
    status: int | None = None
    retry_after: str | None = None
    drop: bool = False
    slow: float = 0.0


NO_FAULT = FaultDecision()


@dataclass(slots=True)
class _TokenBucket:
    tokens: float
    updated: float

    def take(self, now: float, rate: float, size: int) -> float:
        """Spend one token; returns 0 on success, else the seconds until one is available."""
        self.tokens = min(float(size), self.tokens + (now - self.updated) * rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / rate


class FaultInjector:
    """Decides, request by request, which fault of the current `FaultConfig` to inject.

    Thread-safe; `configure` swaps the config at run time and restarts the random sequence and
    the rate-limit buckets. ``clock`` (monotonic) and ``wall_clock`` (epoch seconds, for HTTP
    dates) are injectable for tests.
    """

    def __init__(
        self,
        config: FaultConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._wall_clock = wall_clock
        self.configure(config)

    @property
    def config(self) -> FaultConfig:
        """The config in force."""
        return self._config

    def configure(self, config: FaultConfig | None) -> None:
        """Inject ``config`` from now on (None = no faults)."""
        config = config or FaultConfig()
        with self._lock:
            self._config = config
            self._random = random.Random(config.seed)
            self._buckets: dict[str, _TokenBucket] = {}
            self._active = config != FaultConfig(seed=config.seed)

    def decide(self, firm: str) -> FaultDecision:
        """The fault (or `NO_FAULT`) for the next request addressed to ``firm``."""
        if not self._active:
            return NO_FAULT
        with self._lock:
            config = self._config
            delay = config.latency_ms / 1000
            if config.jitter_ms:
                delay += self._random.uniform(0, config.jitter_ms) / 1000
            if config.rate_limit_rps is not None:
                wait = self._take_token(firm, config)
                if wait:
                    return FaultDecision(
                        delay=delay, status=429, retry_after=self._retry_after(wait, config)
                    )
            if not (config.error_rate or config.drop_rate or config.slow_rate):
                return FaultDecision(delay=delay)
            draw = self._random.random()
            if draw < config.error_rate:
                return FaultDecision(delay=delay, status=self._random.choice(config.error_statuses))
            if draw < config.error_rate + config.drop_rate:
                return FaultDecision(delay=delay, drop=True)
            if draw < config.error_rate + config.drop_rate + config.slow_rate:
                return FaultDecision(delay=delay, slow=config.slow_seconds)
            return FaultDecision(delay=delay)

    def _take_token(self, firm: str, config: FaultConfig) -> float:
        assert config.rate_limit_rps is not None
        now = self._clock()
        bucket = self._buckets.get(firm)
        if bucket is None:
            bucket = self._buckets[firm] = _TokenBucket(float(config.bucket_size), now)
        return bucket.take(now, config.rate_limit_rps, config.bucket_size)

    def _retry_after(self, wait: float, config: FaultConfig) -> str | None:
        if config.retry_after == "seconds":
            return str(max(1, math.ceil(wait)))
        if config.retry_after == "http_date":
            # HTTP dates have whole seconds: round up so the client never comes back too early.
            return formatdate(math.ceil(self._wall_clock() + wait), usegmt=True)
        return None

"""Fault injection for the Clockwork simulator: what can go wrong, and when it does.

`FaultConfig` is the validated description (latency, a per-firm token-bucket rate limit, and the
probabilities of a 5xx, a dropped connection, a response slower than the client's timeout and a
response dripped one byte at a time). `FaultInjector` holds one config for every firm and,
optionally, a whole config of its own for some firms, and turns them into one `FaultDecision`
per request, from seedable `random.Random`s so tests are deterministic; the transports (`app`,
`mock`) carry the decision out.
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

    A 429 or 5xx is answered instead of serving the request. A drop, a slow or a dripped
    response serves the request first (the write happens), then breaks the connection mid-body,
    answers only after ``slow_seconds``, or sends the answer one byte every
    ``drip_interval_seconds`` (on a socket served by `SimulatorServer`: status line and headers
    included) — exactly the cases where a client cannot know whether a write landed, and the
    last one where a per-read timeout never fires.
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
    drip_rate: float = Field(
        default=0.0, ge=0, le=1, description="probability of a response dripped byte by byte"
    )
    drip_interval_seconds: float = Field(
        default=2.0, gt=0, description="pause between two bytes of a dripped response"
    )
    seed: int | None = Field(default=None, description="seed of the random draws; None = unseeded")

    @model_validator(mode="after")
    def _check_consistency(self) -> FaultConfig:
        if any(not 500 <= status <= 599 for status in self.error_statuses):
            raise ValueError("error_statuses must all be 5xx")
        if self.error_rate + self.drop_rate + self.slow_rate + self.drip_rate > 1:
            raise ValueError("error_rate + drop_rate + slow_rate + drip_rate must not exceed 1")
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
    """What to do to one request. ``status`` set → answer it instead of serving the request.

    ``drip`` > 0: send the answer one byte every ``drip`` seconds.
    """

    delay: float = 0.0
    status: int | None = None
    retry_after: str | None = None
    drop: bool = False
    slow: float = 0.0
    drip: float = 0.0


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


@dataclass(slots=True)
class _Regime:
    """A config in force, with its own random draws and rate-limit buckets (one per firm)."""

    config: FaultConfig
    random: random.Random
    buckets: dict[str, _TokenBucket]
    active: bool

    @classmethod
    def of(cls, config: FaultConfig) -> _Regime:
        return cls(config, random.Random(config.seed), {}, config != FaultConfig(seed=config.seed))


class FaultInjector:
    """Decides, request by request, which fault of the `FaultConfig` in force to inject.

    One config applies to every firm (`configure`); a firm may get a whole config of its own
    instead (`configure_firm`: fields it omits take their defaults, not the global config's), so
    one server can hold healthy firms, a throttled one and a dripping one. Each config keeps its
    own random sequence and rate-limit buckets. Thread-safe; ``clock`` (monotonic) and
    ``wall_clock`` (epoch seconds, for HTTP dates) are injectable for tests.
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
        self._firms: dict[str, _Regime] = {}
        self.configure(config)

    @property
    def config(self) -> FaultConfig:
        """The config in force for every firm without one of its own."""
        return self._global.config

    def configure(self, config: FaultConfig | None) -> None:
        """Inject ``config`` for every firm from now on (None = no faults).

        Drops every firm's own config and restarts the random sequence and the rate-limit
        buckets: the whole fault picture is replaced.
        """
        regime = _Regime.of(config or FaultConfig())
        with self._lock:
            self._global = regime
            self._firms = {}

    def configure_firm(self, firm: str, config: FaultConfig | None) -> None:
        """Give ``firm`` a config of its own from now on, or (None) put it back on the global one.

        The firm's random sequence and rate-limit bucket restart; other firms are untouched.
        """
        with self._lock:
            if config is None:
                self._firms.pop(firm, None)
            else:
                self._firms[firm] = _Regime.of(config)
            self._global.buckets.pop(firm, None)

    def firm_config(self, firm: str) -> FaultConfig | None:
        """The firm's own config, or None when the global one applies to it."""
        regime = self._firms.get(firm)
        return regime.config if regime is not None else None

    def firm_configs(self) -> dict[str, FaultConfig]:
        """Every firm that has a config of its own, with that config."""
        with self._lock:
            return {firm: regime.config for firm, regime in self._firms.items()}

    def decide(self, firm: str) -> FaultDecision:
        """The fault (or `NO_FAULT`) for the next request addressed to ``firm``."""
        regime = self._firms.get(firm, self._global)
        if not regime.active:
            return NO_FAULT
        with self._lock:
            config = regime.config
            draws = regime.random
            delay = config.latency_ms / 1000
            if config.jitter_ms:
                delay += draws.uniform(0, config.jitter_ms) / 1000
            if config.rate_limit_rps is not None:
                wait = self._take_token(regime, firm)
                if wait:
                    return FaultDecision(
                        delay=delay, status=429, retry_after=self._retry_after(wait, config)
                    )
            if not (config.error_rate or config.drop_rate or config.slow_rate or config.drip_rate):
                return FaultDecision(delay=delay)
            draw = draws.random()
            threshold = config.error_rate
            if draw < threshold:
                return FaultDecision(delay=delay, status=draws.choice(config.error_statuses))
            threshold += config.drop_rate
            if draw < threshold:
                return FaultDecision(delay=delay, drop=True)
            threshold += config.slow_rate
            if draw < threshold:
                return FaultDecision(delay=delay, slow=config.slow_seconds)
            threshold += config.drip_rate
            if draw < threshold:
                return FaultDecision(delay=delay, drip=config.drip_interval_seconds)
            return FaultDecision(delay=delay)

    def _take_token(self, regime: _Regime, firm: str) -> float:
        config = regime.config
        assert config.rate_limit_rps is not None
        now = self._clock()
        bucket = regime.buckets.get(firm)
        if bucket is None:
            bucket = regime.buckets[firm] = _TokenBucket(float(config.bucket_size), now)
        return bucket.take(now, config.rate_limit_rps, config.bucket_size)

    def _retry_after(self, wait: float, config: FaultConfig) -> str | None:
        if config.retry_after == "seconds":
            return str(max(1, math.ceil(wait)))
        if config.retry_after == "http_date":
            # HTTP dates have whole seconds: round up so the client never comes back too early.
            return formatdate(math.ceil(self._wall_clock() + wait), usegmt=True)
        return None

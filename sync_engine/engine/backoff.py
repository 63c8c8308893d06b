"""R7 retry timing: exponential backoff with jitter, never sooner than Clockwork's Retry-After."""

from __future__ import annotations

import random


def retry_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1).

    "Equal jitter": half the exponential step is fixed, half random, so retries spread out but
    still grow; a Retry-After from the server is a floor.
    """
    step = min(cap, base * 2 ** max(attempt - 1, 0))
    delay = step / 2 + (rng or random).uniform(0, step / 2)
    return max(delay, retry_after or 0.0)

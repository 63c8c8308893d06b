"""A firm's lane in the engine: its pacer, its client, its share of workers and the work it holds.

A lane's share of workers follows its pace and its answers' latency (a little more than the
requests its pace keeps in flight); work claimed for it ahead of a free worker waits in its
backlog, so one claim transaction feeds several enrollments. Waiting there it keeps the status it
had (queued or retrying): it shows *syncing* once a worker starts its attempt.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from sync_engine.clockwork.client import CallRecord, ClockworkClient
from sync_engine.engine.pacing import TokenBucket
from sync_engine.engine.queue import Claim

# A firm's share of workers, as a multiple of the requests its pace keeps in flight.
HEADROOM = 1.25
# Work claimed for a firm beyond what its workers take now waits in its lane, up to this many
# times its share of workers: one claim transaction then feeds several enrollments.
CLAIM_AHEAD = 2
# Before any answer is timed, a firm's latency is taken to be this (seconds).
INITIAL_LATENCY = 0.2
# How much of each new latency sample enters a firm's average.
LATENCY_WEIGHT = 0.2


@dataclass
class Lane:
    """One firm's share of the engine: its pacer, its client and the work it has in flight."""

    account_id: int
    pacer: TokenBucket
    client: ClockworkClient | None = None
    credentials_key: object = None
    checked_in_pass: int = -1
    in_flight: int = 0
    latency: float = INITIAL_LATENCY
    retired: list[ClockworkClient] = field(default_factory=list)
    backlog: deque[Claim] = field(default_factory=deque)  # claimed, waiting for a worker

    def capacity(self, ceiling: int) -> int:
        """Enrollments this firm may have in flight: a little more than its pace keeps busy (more
        would only add threads waiting on the pacer, and thread switching costs CPU)."""
        wanted = math.ceil(self.pacer.rate * self.latency * HEADROOM) + 1
        return max(1, min(ceiling, wanted))

    def observe(self, call: CallRecord) -> None:
        if call.status is not None and call.status < 400:
            seconds = call.latency_ms / 1000
            self.latency += LATENCY_WEIGHT * (seconds - self.latency)

    def close_idle_clients(self, *, all_clients: bool = False) -> None:
        if self.in_flight:
            return
        for client in self.retired:
            client.close()
        self.retired.clear()
        if all_clients and self.client is not None:
            self.client.close()
            self.client = None
            self.credentials_key = None

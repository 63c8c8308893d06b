"""Engine passes: claim due work, run the pipeline on a bounded worker pool, record what happened.

An :class:`Engine` lives as long as its process (the scheduler or a CLI run). It keeps one pacer
per Clockwork connection so that every worker of every pass shares the firm's request budget, and
buffers the API call log (SPEC B7) to write it once per pass, bounded to the configured retention.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select

from sync_engine.clockwork.client import CallRecord, ClockworkClient
from sync_engine.engine.pacing import TokenBucket
from sync_engine.engine.pipeline import PipelineConfig, process
from sync_engine.engine.queue import (
    Claim,
    claim_due,
    next_due_at,
    reap_expired_leases,
)
from sync_engine.models import (
    AccountSettings,
    ApiCall,
    ClockworkConnection,
    EngineRun,
    table_of,
)
from sync_engine.runtime import Runtime
from sync_engine.services.accounts import connection_credentials

log = logging.getLogger(__name__)

# How often ``run_until_idle`` looks at the queue while it waits for another process's work.
IDLE_POLL_SECONDS = 0.2


def worker_name() -> str:
    """This process, as it appears in leases and run history."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Engine:
    """Runs sync passes for one process; thread-safe for one pass at a time."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        config: PipelineConfig | None = None,
        pass_budget_seconds: float = 60.0,
    ) -> None:
        self.runtime = runtime
        self.pass_budget_seconds = pass_budget_seconds
        settings = runtime.settings
        self.config = config or PipelineConfig(
            max_attempts=settings.max_attempts,
            backoff_base=settings.backoff_base_seconds,
            backoff_cap=settings.backoff_max_seconds,
        )
        self.worker = worker_name()
        self._pacers: dict[int, TokenBucket] = {}
        self._calls: list[tuple[int, CallRecord]] = []
        self._calls_lock = threading.Lock()
        self._pass_lock = threading.Lock()

    # --- one pass ------------------------------------------------------------------------------

    def run_pass(self, *, trigger: str = "manual") -> Counter[str]:
        """Claim due work and process it; returns counts by outcome (also stored as a run)."""
        with self._pass_lock:
            return self._run_pass(trigger)

    def _run_pass(self, trigger: str) -> Counter[str]:
        rt = self.runtime
        started = rt.clock()
        counts: Counter[str] = Counter()
        error: str | None = None
        try:
            counts.update(self._drain(deadline=time.monotonic() + self.pass_budget_seconds))
        except Exception as exc:  # recorded for the dashboard, then re-raised for the scheduler
            error = f"{type(exc).__name__}: {exc}"[:1000]
            raise
        finally:
            self._flush_calls()
            with rt.db.write() as session:
                session.add(
                    EngineRun(
                        started_at=started,
                        finished_at=rt.clock(),
                        trigger=trigger,
                        worker=self.worker,
                        counts=dict(counts),
                        error=error,
                    )
                )
        return counts

    def _claim(self, limit: int) -> list[Claim]:
        rt = self.runtime
        token = f"{self.worker}:{uuid.uuid4().hex[:8]}"
        with rt.db.write() as session:
            return claim_due(
                session=session,
                token=token,
                now=rt.clock(),
                lease_seconds=rt.settings.lease_seconds,
                limit=limit,
            )

    def _drain(self, *, deadline: float) -> Counter[str]:
        """Keep every worker busy: claim only as much as there are free workers, refill as each
        finishes, until nothing is due (or the pass budget is spent).

        Claiming per free worker, not in big batches, leaves no worker idle behind a slow item and
        lets several engine processes share the queue evenly.
        """
        workers = self.runtime.settings.workers
        outcomes: Counter[str] = Counter()
        clients: dict[int, ClockworkClient | None] = {}
        in_flight: set[Future[str]] = set()
        queue_empty = False
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cwsync") as pool:
                while True:
                    free = workers - len(in_flight)
                    if free and not queue_empty and time.monotonic() < deadline:
                        claims = self._claim(free)
                        queue_empty = not claims
                        outcomes["claimed"] += len(claims)
                        for claim in claims:
                            if claim.account_id not in clients:
                                clients[claim.account_id] = self._client_for(claim.account_id)
                            client = clients[claim.account_id]
                            if client is None:  # disconnected since the claim: lease expires
                                outcomes["no_credentials"] += 1
                                continue
                            in_flight.add(pool.submit(self._process_one, claim, client))
                    if not in_flight:
                        return outcomes
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        outcomes[future.result()] += 1
        finally:
            for client in clients.values():
                if client is not None:
                    client.close()

    def _process_one(self, claim: Claim, client: ClockworkClient) -> str:
        try:
            return process(
                claim,
                db=self.runtime.db,
                client=client,
                clock=self.runtime.clock,
                config=self.config,
            ).value
        except Exception:
            # A bug, not a Clockwork failure: the lease expires and the work returns to the queue.
            log.exception("enrollment %s: unexpected error in the pipeline", claim.enrollment_id)
            return "error"

    def _client_for(self, account_id: int) -> ClockworkClient | None:
        rt = self.runtime
        with rt.db.read() as session:
            credentials = connection_credentials(session=session, box=rt.box, account_id=account_id)
            settings = session.get(AccountSettings, account_id)
        if credentials is None:
            return None
        max_rps = settings.max_rps if settings else None
        pacer = self._pacers.get(account_id)
        rate = max_rps or rt.settings.default_max_rps
        if pacer is None:
            pacer = self._pacers[account_id] = TokenBucket(rate, adaptive=max_rps is None)
        else:
            pacer.set_rate(rate, adaptive=max_rps is None)

        def record(call: CallRecord) -> None:
            with self._calls_lock:
                self._calls.append((account_id, call))

        return rt.client(credentials, on_call=record, pacer=pacer)

    # --- API call log --------------------------------------------------------------------------

    def _flush_calls(self) -> None:
        with self._calls_lock:
            calls, self._calls = self._calls, []
        if not calls:
            return
        retention = self.runtime.settings.api_call_log_retention
        last_success: dict[int, datetime] = {}
        rows: list[dict[str, object]] = []
        for account_id, call in calls[-retention:]:
            rows.append(
                {
                    "account_id": account_id,
                    "at": call.at,
                    "method": call.method,
                    "path": call.path_template,
                    "status": call.status,
                    "latency_ms": call.latency_ms,
                    "error": call.error[:500] if call.error else None,
                }
            )
            if call.status is not None and call.status < 400:
                last_success[account_id] = max(last_success.get(account_id, call.at), call.at)
        with self.runtime.db.write() as session:
            # Plain rows in one executemany: no ORM object and unit-of-work entry per call.
            session.execute(sa.insert(table_of(ApiCall)), rows)
            for account_id, at in last_success.items():
                session.execute(
                    sa.update(ClockworkConnection)
                    .where(col(ClockworkConnection.account_id) == account_id)
                    .values(last_success_at=at)
                )
            session.flush()
            newest = session.exec(select(sa.func.max(ApiCall.id))).one() or 0
            session.execute(sa.delete(ApiCall).where(col(ApiCall.id) <= newest - retention))

    # --- housekeeping and loops ------------------------------------------------------------------

    def reap_leases(self) -> int:
        """Return work whose worker died (lease expired) to the queue."""
        with self.runtime.db.write() as session:
            return reap_expired_leases(session=session, now=self.runtime.clock())

    def run_until_idle(self, *, timeout: float) -> Counter[str]:
        """Run passes until nothing is due, waiting out backoff delays up to ``timeout`` seconds.

        Returns the summed counts; ``counts["timed_out"]`` is 1 when work was still queued at the
        deadline.
        """
        deadline = time.monotonic() + timeout
        total: Counter[str] = Counter()
        while True:
            counts = self.run_pass(trigger="until_idle")
            total.update(counts)
            if counts["claimed"]:
                continue
            # Nothing claimable: wait for queued work to come due. Work another process holds
            # counts as due at its lease expiry but usually finishes long before, so the queue is
            # looked at again every IDLE_POLL_SECONDS (one cheap query, no pass recorded).
            while True:
                with self.runtime.db.read() as session:
                    due = next_due_at(session=session)
                if due is None:
                    return total
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    total["timed_out"] = 1
                    return total
                wait = (due - self.runtime.clock()).total_seconds()
                pause = min(max(wait, 0.05), remaining, IDLE_POLL_SECONDS)
                time.sleep(pause)
                if pause < IDLE_POLL_SECONDS:  # due by now, or the deadline came: run a pass
                    break

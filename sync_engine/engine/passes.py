"""Engine passes: take due work firm by firm, run the pipeline on worker threads, record outcomes.

An :class:`Engine` lives as long as its process (the scheduler or a CLI run). Each Clockwork firm
(account) has a lane: its pacer, its client and its own share of workers, sized from its pace
and its answers' latency (a little more than the requests its pace keeps in flight), so the
engine's concurrency grows with the number of firms that can send (SPEC R9):

- work is taken for a firm only when its lane has room and its pacer can send now, round-robin
  across the firms with work due, so a throttled firm's work waits in the queue, not in a worker;
- a firm that hangs holds only its own lane; every request has an overall deadline, and a pass
  does not wait for one firm's work: what is still in flight when a pass ends is collected by
  the next one;
- a firm whose credentials cannot be read is marked *needs attention* and paused alone;
- engines sharing a store split the firms (:mod:`sync_engine.engine.members`): one takes work
  only for its own, so each firm is paced by one engine.

The API call log (SPEC B7) is buffered and written once per pass (:mod:`.call_log`).

Past 500 lines on purpose: the pass loop, the lanes' upkeep and the housekeeping loops share one
engine's state (its lanes, the work in flight, the membership, the call buffer); what needs none
of it lives beside it (:mod:`.lanes`, :mod:`.lane_rows`, :mod:`.queue`, :mod:`.members`).
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor, wait

from sync_engine.clockwork.client import CallRecord, ClockworkClient, Credentials
from sync_engine.connections import credentials_of
from sync_engine.engine.call_log import write_calls
from sync_engine.engine.lane_rows import LaneRow, mark_unusable, read_lane_rows
from sync_engine.engine.lanes import CLAIM_AHEAD, Lane
from sync_engine.engine.members import Membership, member_name, time_to_live
from sync_engine.engine.paces import PaceBook
from sync_engine.engine.pacing import TokenBucket
from sync_engine.engine.pipeline import PipelineConfig, process
from sync_engine.engine.queue import (
    Claim,
    claim_due,
    due_by_account,
    next_due_at,
    reap_expired_leases,
    release_claims,
    remaining_work,
)
from sync_engine.models import ConnectionState, EngineRun
from sync_engine.runtime import Runtime

log = logging.getLogger(__name__)

# How often ``run_until_idle`` looks at the queue while it waits for another process's work.
IDLE_POLL_SECONDS = 0.2
# How often a pass looks for firms with newly due work while its workers are busy.
DISCOVER_SECONDS = 0.5
# Longest a pass waits for a worker before it looks at the queue again.
TICK_SECONDS = 0.1
# A firm is given work when its pacer can send within this long (its worker waits that long in
# its own lane at most; a firm further off keeps its work in the queue).
READY_SECONDS = 0.5
# After the stop time, how long the work in flight is given to put itself back in the queue.
WIND_DOWN_SECONDS = 2.0
# Firms whose lanes one read brings up to date (an IN list: well under SQLite's 32,766 variables).
READ_AHEAD = 64


def worker_name() -> str:
    """This process, as it appears in leases and run history."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Engine:
    """Runs sync passes for one process; one pass at a time, work in flight across passes."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        config: PipelineConfig | None = None,
        pass_budget_seconds: float = 60.0,
        member: str | None = None,
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
        # Engines sharing the store split the firms: this one takes work only for its own.
        self.membership = Membership(
            runtime.db,
            runtime.clock,
            member=member or member_name(self.worker),
            ttl_seconds=time_to_live(settings.sync_interval_seconds),
            enabled=settings.partition_firms,
        )
        self.paces = PaceBook(runtime.db)  # what this engine's pacers learned, for the next
        self.stop_at: float | None = None  # monotonic: no request is sent or awaited past it
        self._lanes: dict[int, Lane] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: dict[Future[str], Lane] = {}
        self._finished: queue.SimpleQueue[Future[str]] = queue.SimpleQueue()
        self._rotation = itertools.count()
        self._pass_number = 0
        self._rows: dict[int, LaneRow | Exception] = {}  # the firms' rows read this pass
        self._rows_pass = -1
        self._calls: list[tuple[int, CallRecord]] = []
        self._calls_lock = threading.Lock()
        self._pass_lock = threading.Lock()

    # --- one pass ------------------------------------------------------------------------------

    def run_pass(
        self, *, trigger: str = "manual", budget_seconds: float | None = None
    ) -> Counter[str]:
        """Take due work and process it until nothing more can be taken and nothing of this
        pass is in flight, or the budget is spent; returns counts by outcome (stored as a run).

        Work still in flight at the end (a slow firm's) keeps going; a later pass counts it.
        """
        with self._pass_lock:
            budget = self.pass_budget_seconds if budget_seconds is None else budget_seconds
            return self._run_pass(trigger, time.monotonic() + budget)

    def _run_pass(self, trigger: str, deadline: float) -> Counter[str]:
        rt = self.runtime
        started = rt.clock()
        counts: Counter[str] = Counter()
        error: str | None = None
        try:
            self._drain(counts, deadline=deadline)
        except Exception as exc:  # recorded for the dashboard, then re-raised for the scheduler
            error = f"{type(exc).__name__}: {exc}"[:1000]
            raise
        finally:
            self._give_back_waiting()
            self.paces.save(self._lanes, now=True)
            if not self._in_flight:
                self._idle()
            self._flush_calls()
            run = EngineRun(
                started_at=started, finished_at=rt.clock(), trigger=trigger,
                worker=self.worker, counts=dict(counts), error=error,
            )  # fmt: skip
            with rt.db.write() as session:
                session.add(run)
        return counts

    def _drain(self, counts: Counter[str], *, deadline: float) -> None:
        """Top up every firm's lane, collect finished work, repeat until idle or ``deadline``."""
        self._pass_number += 1
        due: dict[int, int] = {}
        discovered_at = float("-inf")
        while True:
            self._collect(counts, timeout=0)
            self.paces.save(self._lanes)
            if self._stopping() or time.monotonic() >= deadline:
                return
            # What is due is counted down as it is claimed and looked up again now and then,
            # or when nothing is left to claim and nothing is in flight (idle, or more came due).
            stale = time.monotonic() - discovered_at >= DISCOVER_SECONDS
            if stale or (not due and not self._in_flight):
                due = self._due()
                discovered_at = time.monotonic()
                self._give_back_waiting(others_only=True)  # firms that moved to another engine
            claimed, pacing = self._top_up(due, counts)
            counts["claimed"] += claimed
            if not self._in_flight:  # lanes still holding claims wait for their pacer too
                if pacing is None or time.monotonic() + pacing >= deadline:
                    return  # nothing in flight and nothing more could be taken: idle
                time.sleep(pacing)  # work is due for a firm whose pacer is about to allow it
                continue
            self._collect(counts, timeout=TICK_SECONDS)

    def _due(self) -> dict[int, int]:
        """Due work by account, of this engine's own accounts only."""
        with self.runtime.db.read() as session:
            due = due_by_account(session=session, now=self.runtime.clock())
        return self.membership.mine(due)

    def _top_up(self, due: dict[int, int], counts: Counter[str]) -> tuple[int, float | None]:
        """Start work for each firm that has room and can send now, firms taken in turn: first
        what its lane holds already, then newly claimed work (some ahead, for its lane).

        Returns how many were claimed, and the soonest a firm passed over only for its pace
        can send (None if there was no such firm).
        """
        pacing: float | None = None
        accounts = sorted(due.keys() | {i for i, lane in self._lanes.items() if lane.backlog})
        if not accounts:
            return 0, pacing
        settings = self.runtime.settings
        room = settings.workers - len(self._in_flight)
        turn = next(self._rotation) % len(accounts)
        wanted: list[tuple[Lane, int, int]] = []  # lane, how many to claim, to start now
        order = accounts[turn:] + accounts[:turn]
        if self._rows_pass != self._pass_number:  # each firm's row is read once per pass
            self._rows, self._rows_pass = {}, self._pass_number
        unread: set[int] = set()  # firms whose rows the store did not give this time
        for at, account_id in enumerate(order):
            if room <= 0:
                break
            if (
                account_id not in self._rows
                and account_id not in unread
                and not self._lane_is_current(self._lanes.get(account_id))
            ):
                unread |= self._read_ahead(order[at:])
            lane = self._lane_for(account_id, counts, self._rows)
            if lane is None:
                due.pop(account_id, None)
                continue
            capacity = lane.capacity(settings.account_concurrency)
            free = min(capacity - lane.in_flight, room)
            if free <= 0:
                continue
            ready_in = lane.pacer.ready_in()
            if ready_in > READY_SECONDS:
                pacing = ready_in if pacing is None else min(pacing, ready_in)
                continue
            while free and lane.backlog:
                self._start(lane, lane.backlog.popleft())
                free, room = free - 1, room - 1
            if free and due.get(account_id):
                wanted.append(
                    (lane, min(free + capacity * (CLAIM_AHEAD - 1), due[account_id]), free)
                )
                room -= free
        if not wanted:
            return 0, pacing
        rt = self.runtime
        token = f"{self.worker}:{uuid.uuid4().hex[:8]}"
        claimed: list[tuple[Lane, list[Claim], int]] = []
        with rt.db.transaction() as connection:  # Core statements only: no ORM session
            now = rt.clock()
            for lane, take, start in wanted:
                claims = claim_due(
                    session=connection,
                    token=token,
                    now=now,
                    lease_seconds=settings.lease_seconds,
                    limit=take,
                    account_id=lane.account_id,
                )
                due[lane.account_id] = max(0, due[lane.account_id] - len(claims))
                if not due[lane.account_id]:
                    del due[lane.account_id]
                claimed.append((lane, claims, start))
        for lane, claims, start in claimed:
            for claim in claims[:start]:
                self._start(lane, claim)
            lane.backlog.extend(claims[start:])
        return sum(len(claims) for _, claims, _ in claimed), pacing

    def _start(self, lane: Lane, claim: Claim) -> None:
        client = lane.client
        assert client is not None
        lane.in_flight += 1
        future = self._executor().submit(self._process_one, claim, client)
        self._in_flight[future] = lane
        future.add_done_callback(self._finished.put)

    def _give_back_waiting(self, *, others_only: bool = False) -> None:
        """Claims still waiting in the lanes go back to the queue: all (the pass ends), or those
        of the firms that are now another engine's."""
        keep = self.membership.owns if others_only else (lambda _account: False)
        lanes = [lane for lane in self._lanes.values() if not keep(lane.account_id)]
        claims = [claim for lane in lanes for claim in lane.backlog]
        for lane in lanes:
            lane.backlog.clear()
        if not claims:
            return
        try:
            with self.runtime.db.write() as session:
                release_claims(session=session, claims=claims, now=self.runtime.clock())
        except Exception:  # their leases expire and the reaper returns them
            log.exception("could not give back %d claimed enrollments", len(claims))

    def _collect(self, counts: Counter[str], *, timeout: float) -> None:
        """Count the work that finished, waiting up to ``timeout`` for the first if none has."""
        if not self._in_flight:
            return
        try:
            future = (
                self._finished.get(timeout=timeout) if timeout > 0 else self._finished.get_nowait()
            )
            while True:
                lane = self._in_flight.pop(future)
                lane.in_flight -= 1
                lane.close_idle_clients()
                counts[future.result()] += 1
                future = self._finished.get_nowait()
        except queue.Empty:
            return

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.runtime.settings.workers, thread_name_prefix="cwsync"
            )
        return self._pool

    def _stopping(self) -> bool:
        return self.stop_at is not None and time.monotonic() >= self.stop_at

    def _idle(self) -> None:
        """Nothing in flight: close the clients and the threads until the next pass."""
        for lane in self._lanes.values():
            lane.close_idle_clients(all_clients=True)
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def _process_one(self, claim: Claim, client: ClockworkClient) -> str:
        rt = self.runtime
        try:
            return process(claim, db=rt.db, client=client, clock=rt.clock, config=self.config).value
        except Exception as exc:
            # The store failed under the pipeline (its own errors end inside it): give the work
            # back now rather than at lease expiry, if the store lets us.
            log.exception("enrollment %s: unexpected error in the pipeline", claim.enrollment_id)
            try:
                with self.runtime.db.write() as session:
                    release_claims(
                        session=session,
                        claims=[claim],
                        now=self.runtime.clock(),
                        error=f"unexpected error ({type(exc).__name__})",
                    )
            except Exception:
                log.exception("enrollment %s: could not give it back", claim.enrollment_id)
            return "error"

    # --- lanes -----------------------------------------------------------------------------------

    def _lane_for(
        self,
        account_id: int,
        counts: Counter[str],
        read: dict[int, LaneRow | Exception] | None = None,
    ) -> Lane | None:
        """The firm's lane with a client for its current credentials; None when the firm cannot
        send this pass: not connected, its row unreadable just now (the store's trouble, tried
        again next time), or its credentials unusable (the account is then marked *needs
        attention*). Its row is read once per pass: taken from ``read`` (the pass's rows,
        :meth:`_read_ahead`) or read here, for this firm alone."""
        lane = self._lanes.get(account_id)
        if self._lane_is_current(lane):
            return lane
        found = (
            read
            if read is not None
            else read_lane_rows(self.runtime.db, [account_id], known=self._lanes)
        ).get(account_id)
        if found is None:  # the store did not answer: not the firm's fault
            return None
        if isinstance(found, Exception):
            self._unusable(account_id, found, counts)
            return None
        row = found.connection
        if row is None or row.state == ConnectionState.DISCONNECTED:
            return None
        rate = found.max_rps or self.runtime.settings.default_max_rps
        if lane is None:
            pacer = TokenBucket(rate, adaptive=found.max_rps is None)
            if found.learned is not None:  # a firm new to this engine: another engine's pace
                pacer.adopt(*found.learned)
            lane = self._lanes[account_id] = Lane(account_id=account_id, pacer=pacer)
        else:
            lane.pacer.set_rate(rate, adaptive=found.max_rps is None)
        # Keyed on the stored tokens: decrypted only when they change, for the new client alone.
        key = (row.api_key_token, row.api_secret_token, row.firm_service_key_token,
               row.base_url, row.firm)  # fmt: skip
        if lane.client is None or lane.credentials_key != key:
            try:
                credentials = credentials_of(row, self.runtime.box)
            except Exception as exc:  # undecryptable, a stored value no longer valid
                self._unusable(account_id, exc, counts)
                return None
            assert credentials is not None  # a live row: checked above
            if lane.client is not None:
                lane.retired.append(lane.client)
            lane.client = self._client(credentials, lane)
            lane.credentials_key = key
        lane.checked_in_pass = self._pass_number
        return lane

    def _unusable(self, account_id: int, error: Exception, counts: Counter[str]) -> None:
        log.warning("account %s: credentials unusable: %s", account_id, type(error).__name__)
        mark_unusable(self.runtime.db, account_id, error, key_file=self.runtime.settings.key_file)
        counts["credentials_unreadable"] += 1

    def _lane_is_current(self, lane: Lane | None) -> bool:
        return (
            lane is not None
            and lane.client is not None
            and lane.checked_in_pass == self._pass_number
        )

    def _read_ahead(self, order: list[int]) -> set[int]:
        """Read the rows of the next ``READ_AHEAD`` firms in turn not read yet this pass, in one
        read (one read per firm cost 60 reads before the first claim for 60 firms); returns
        the firms whose rows the store did not give."""
        wanted = [
            a
            for a in order
            if a not in self._rows and not self._lane_is_current(self._lanes.get(a))
        ][:READ_AHEAD]
        self._rows |= read_lane_rows(self.runtime.db, wanted, known=self._lanes)
        return {a for a in wanted if a not in self._rows}

    def _client(self, credentials: Credentials, lane: Lane) -> ClockworkClient:
        def record(call: CallRecord) -> None:
            lane.observe(call)
            with self._calls_lock:
                self._calls.append((lane.account_id, call))

        return self.runtime.client(
            credentials,
            on_call=record,
            pacer=lane.pacer,
            stop_at=lambda: self.stop_at,
        )

    def close(self) -> None:
        """Wait for the work in flight, then close clients and threads and leave the members."""
        if self._in_flight:
            wait(self._in_flight)
            self._collect(Counter(), timeout=0)
        self._idle()
        self.membership.leave()

    # --- API call log --------------------------------------------------------------------------

    def _flush_calls(self) -> None:
        with self._calls_lock:
            calls, self._calls = self._calls, []
        write_calls(self.runtime.db, calls, self.runtime.settings.api_call_log_retention)

    def pacer_for(self, account_id: int) -> TokenBucket | None:
        """The firm's pacer once its lane exists: work beside syncing (a verification) takes its
        requests from the same budget."""
        lane = self._lanes.get(account_id)
        return lane.pacer if lane is not None else None

    # --- housekeeping and loops ------------------------------------------------------------------

    def reap_leases(self) -> int:
        """Return work whose worker died (lease expired) to the queue."""
        with self.runtime.db.write() as session:
            return reap_expired_leases(session=session, now=self.runtime.clock())

    def run_until_idle(self, *, timeout: float) -> Counter[str]:
        """Run passes until nothing is due, waiting out backoff delays, and return by ``timeout``
        seconds whatever Clockwork does: no request is sent or awaited past it, and work cut
        short goes back to the queue without using an attempt.

        Returns the summed counts; ``counts["timed_out"]`` is 1 and ``counts["remaining"]`` the
        number of enrollments still waiting to sync when work remained at the deadline.
        """
        deadline = time.monotonic() + timeout
        self.stop_at = deadline
        total: Counter[str] = Counter()
        try:
            self._until_idle(total, deadline)
        finally:
            self._wind_down(total)
            self.stop_at = None
            self.membership.leave()
        with self.runtime.db.read() as session:
            due = next_due_at(session=session)
            if due is not None:
                total["timed_out"] = 1
                total["remaining"] = remaining_work(session=session)
        return total

    def _until_idle(self, total: Counter[str], deadline: float) -> None:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            counts = self.run_pass(trigger="until_idle", budget_seconds=remaining)
            total.update(counts)
            if counts["claimed"] or self._in_flight:
                continue
            # Nothing claimable: wait for queued work to come due. Work another process holds
            # counts as due at its lease expiry but usually finishes long before, so the queue is
            # looked at again every IDLE_POLL_SECONDS (one cheap query, no pass recorded).
            while True:
                with self.runtime.db.read() as session:
                    due = next_due_at(session=session)
                if due is None:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                wait_for = (due - self.runtime.clock()).total_seconds()
                if wait_for <= 0 and not self._due():
                    # Due, but another engine's firms (or leased): wait for it, ready to take
                    # its firms over if its heartbeat stops.
                    time.sleep(min(remaining, IDLE_POLL_SECONDS))
                    continue
                pause = min(max(wait_for, 0.05), remaining, IDLE_POLL_SECONDS)
                time.sleep(pause)
                if pause < IDLE_POLL_SECONDS:  # due by now, or the deadline came: run a pass
                    break

    def _wind_down(self, total: Counter[str]) -> None:
        """At the stop time, the work in flight ends within moments (its requests are cut and it
        is put back in the queue): collect it, so nothing is left *syncing*."""
        if self._in_flight:
            wait(self._in_flight, timeout=WIND_DOWN_SECONDS)
            self._collect(total, timeout=0)
            if self._in_flight:
                log.warning("%d enrollments still in flight at the stop time", len(self._in_flight))
                return
        self._idle()

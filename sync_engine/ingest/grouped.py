"""Group commit: the email-event deliveries that arrive together are done in one transaction.

A request's handler hands its delivery to :class:`GroupCommit` and awaits it. One writer thread
takes every delivery waiting when it comes round (up to ``max_group``), does them one after the
other in one transaction and commits once; then every request of the group is answered, so an
accepted event is still committed before its 2xx. Per request this saves a connection checkout,
a ``BEGIN`` and a ``COMMIT`` (on PostgreSQL a WAL flush), and the hop through a thread pool.

Only deliveries whose refusals come before any write are grouped (single events): a refused
one (401, 404, 422, 429) leaves nothing in the transaction, and the rest of its group commits
without it. When the store refuses the group itself (a concurrent duplicate's unique key, a lock
timeout, a lost connection), the group is rolled back and each delivery is done again alone, the
ordinary way, with its own answer (replayed, 409 or 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlmodel import Session

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(eq=False)
class _Job(Generic[T]):
    in_group: Callable[[Session, dict[Any, Any]], T | Later]
    alone: Callable[[], T]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T]
    outcome: tuple[bool, Any] = field(default=(False, None))


class Later:
    """What ``in_group`` returns for a delivery that ``finish`` does with others of its group:
    its outcome, settled there (a group left with one unsettled fails)."""

    __slots__ = ("outcome",)

    def __init__(self) -> None:
        self.outcome: tuple[bool, Any] | None = None

    def settle(self, ok: bool, value: Any) -> None:
        """The delivery's result (``ok``) or exception."""
        self.outcome = (ok, value)


class GroupCommit:
    """One writer thread committing the deliveries handed to it in groups.

    ``transaction`` opens the group's transaction (committed on leaving it, rolled back on an
    exception). A delivery is two callables: ``in_group(session, shared)`` does it inside the
    group's transaction (``shared`` is one dict per group, for what its deliveries may share,
    such as a token already looked up in this transaction); ``alone()`` does it in a transaction
    of its own when the group failed. ``refusal`` is the exception that refuses a delivery
    before it writes anything; any other one fails the group. ``finish(session, shared)`` runs
    after the group's deliveries, before its commit (to write together what they left there,
    and settle the deliveries that returned a :class:`Later`).
    """

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Session]],
        *,
        refusal: type[Exception],
        finish: Callable[[Session, dict[Any, Any]], None] | None = None,
        max_group: int = 64,
        writers: int = 1,
        name: str = "ingest-writer",
    ) -> None:
        self._transaction = transaction
        self._refusal = refusal
        self._finish = finish
        self.max_group = max_group
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{n}", daemon=True)
            for n in range(writers)
        ]
        for thread in self._threads:
            thread.start()
        self.groups = 0  # groups committed or tried, and their deliveries: for tests and benches
        self.deliveries = 0
        self.fallbacks = 0

    async def submit(
        self, in_group: Callable[[Session, dict[Any, Any]], T | Later], alone: Callable[[], T]
    ) -> T:
        """Do a delivery in the next group; its result once that group has committed (or its
        exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(in_group, alone, loop, future))
        return await future

    def close(self, timeout: float = 10.0) -> None:
        """Finish the deliveries handed in so far, then stop the writer threads."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout)

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            job = self._jobs.get()
            if job is None:
                return
            group = [job]
            while len(group) < self.max_group:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                group.append(more)
            self._commit(group)
            self._answer(group)

    def _commit(self, group: list[_Job[Any]]) -> None:
        self.groups += 1
        self.deliveries += len(group)
        try:
            with self._transaction() as session:
                shared: dict[Any, Any] = {}
                for job in group:
                    try:
                        job.outcome = (True, job.in_group(session, shared))
                    except self._refusal as refused:
                        job.outcome = (False, refused)
                if self._finish is not None:
                    self._finish(session, shared)
                for job in group:
                    ok, value = job.outcome
                    if ok and isinstance(value, Later):
                        if value.outcome is None:
                            raise RuntimeError("a delivery of the group was left unsettled")
                        job.outcome = value.outcome
        except Exception:
            self.fallbacks += 1
            if len(group) > 1:
                logger.debug("an ingest group failed; its deliveries are done one by one")
            for job in group:
                job.outcome = _outcome(job.alone)

    @staticmethod
    def _answer(group: list[_Job[Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Job[Any]]] = {}
        for job in group:
            by_loop.setdefault(job.loop, []).append(job)
        for loop, jobs in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, jobs)


def _outcome(call: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        return True, call()
    except Exception as exc:
        return False, exc


def _settle(jobs: list[_Job[Any]]) -> None:
    for job in jobs:
        if job.future.done():  # cancelled: the client went away
            continue
        ok, value = job.outcome
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)

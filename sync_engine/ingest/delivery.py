"""How one request to the ingest API is handled, whatever its route: :class:`IngestApp`.

In order: the body is read up to the cap (413), the caller is authenticated (401, the same
answer whatever was wrong, the real reason recorded for staff), rate-limited (429 with
``Retry-After``), a delivery already accepted under the same key is answered as it was, the body
is validated (422, or 400 for what is not JSON), and the work and the delivery's record commit in
one transaction (for single events, one shared with the deliveries that arrived with it:
:mod:`sync_engine.ingest.grouped`). Refusals are recorded but not remembered as answers, so a
platform's retry is judged afresh. A store that cannot take the write is a 503 with ``Retry-After``.

Past 500 lines on purpose: the steps read top to bottom in one place and share the app's state
(limiters, the writer lock, the group commit); split, each half would need the other's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from sync_engine.ingest import delivery_log
from sync_engine.ingest.credentials import (
    Caller,
    TokenCache,
    Verdict,
    authenticate,
    touch_token,
)
from sync_engine.ingest.grouped import GroupCommit, Later
from sync_engine.ingest.models import DeliveryOutcome
from sync_engine.ingest.ratelimit import RateLimiter, retry_after_header
from sync_engine.runtime import Runtime
from sync_engine.services import login_throttle
from sync_engine.services.errors import InvalidInputError, NotFoundError, invalid_input

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestConfig:
    """Limits of the ingest API."""

    max_body_bytes: int = 1_048_576  # a batch of 1,000 contacts is ~250 KB
    rate_per_second: float = 100.0  # per token (or per account's signing secret)
    burst: int = 200
    # Failed authentications per client address, counted in the store (login_throttle) so every
    # process sharing it counts together: this many, each within the lockout of the one before,
    # lock the address for the lockout; a process that saw the lock answers 429 without the store.
    auth_failures: int = 20
    auth_lockout_seconds: float = 120.0
    # A bearer token is read from the store at most this often per process: a revoked token is
    # refused within this many seconds (0: read on every request).
    token_cache_seconds: float = 5.0
    prune_every_seconds: float = 60.0
    # Threads doing the other routes' store work; None: 4 on SQLite, 16 on PostgreSQL. Few on SQLite,
    # which takes one writer at a time, so more threads only queue; a PostgreSQL request mostly
    # waits for its commit's WAL flush, so more of them run at once.
    threads: int | None = None
    # Threads committing single events' deliveries in groups (grouped.py); None: 1 on SQLite
    # (one writer anyway), 4 on PostgreSQL, where a group mostly waits for its round trips.
    group_writers: int | None = None


class Refused(Exception):
    """A request answered with a 4xx before or instead of its work; ``reason`` is what the
    delivery log shows when it differs from the answer (a 401's real cause)."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
        *, reason: str | None = None,
    ):  # fmt: skip
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}
        self.reason = reason
        self.token_id: int | None = None
        self.failed_from: str | None = None  # a failed authentication's address, to count


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


UNAUTHORIZED = "missing or invalid credentials"
_RECORDS = "records"  # in a group's shared dict: (account, key) -> an accepted delivery's record
_STAGED = "staged"  # in a group's shared dict: the deliveries done together at its end


@dataclass
class Result:
    status: int
    answer: dict[str, Any]
    outcome: DeliveryOutcome = DeliveryOutcome.ACCEPTED
    items: int = 1


@dataclass(frozen=True)
class Together:
    """How a grouped route's deliveries are done with the others of their group, at its end:
    which inputs may be (``accepts``), and the work of several at once (``work``: per input,
    in order, its :class:`Result` or the exception refusing it, nothing written for that one)."""

    accepts: Callable[[Any], bool]
    work: Callable[[Session, list[tuple[Caller, Any]]], list[Any]]


@dataclass(eq=False)
class _Staged:
    """A delivery left to the end of its group (:class:`Together`)."""

    delivery: Delivery
    caller: Caller
    key: str | None
    payload: Any
    touch: bool
    later: Later


@dataclass(eq=False)
class Delivery:
    """One write request on its way: what it brought, and who and which key it turned out to
    be (known once authenticated, for the answer to a concurrent duplicate)."""

    request: Request
    account_id: int
    route: str
    body: bytes
    parse: Callable[[Any], Any]
    work: Callable[[Session, Caller, Any], Result]
    adapter: bool = False
    together: Together | None = None
    caller: Caller | None = None
    key: str | None = None
    throttled: bool = False


@dataclass
class IngestApp:
    """The state behind the routes: the runtime (store, key, clock), limits and the limiter."""

    runtime: Runtime
    config: IngestConfig = field(default_factory=IngestConfig)
    monotonic: Callable[[], float] = time.monotonic
    limiter: RateLimiter = field(init=False)
    _locked: dict[str, float] = field(default_factory=dict, init=False)  # address -> until
    tokens: TokenCache = field(init=False)
    _next_prune: float = field(default=0.0, init=False)
    _sqlite_writer: threading.Lock = field(default_factory=threading.Lock, init=False)
    _executor: ThreadPoolExecutor = field(init=False)
    group: GroupCommit = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _refusals_logged: dict[tuple[int, str, int, str], float] = field(
        default_factory=dict, init=False
    )

    def __post_init__(self) -> None:
        threads = self.config.threads or (4 if self.runtime.db.is_sqlite else 16)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="ingest")
        self.group = GroupCommit(
            self._group_transaction, refusal=Refused, finish=self._finish_group,
            writers=self.config.group_writers or (1 if self.runtime.db.is_sqlite else 4),
        )  # fmt: skip
        self.tokens = TokenCache(self.config.token_cache_seconds, clock=self.monotonic)
        self.limiter = RateLimiter(
            self.config.rate_per_second, self.config.burst, clock=self.monotonic
        )

    def close(self) -> None:
        """Let the ingest threads go (the server has stopped)."""
        self.group.close()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def in_thread(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run blocking store work on one of the few ingest threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs)
        )

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around the API's store work: on SQLite, one at a time in this process. SQLite takes
        one writer anyway; waiting here is first come, first served, where waiting in SQLite's
        busy handler sleeps in growing steps. Reads take their turn too: with reads always open
        beside the writes, a WAL checkpoint can never finish and the WAL only grows."""
        with self._sqlite_writer if self.runtime.db.is_sqlite else nullcontext():
            yield

    # --- the steps of a delivery ------------------------------------------------------------

    async def read_body(self, request: Request) -> bytes:
        """The body, refused with 413 as soon as it passes the cap (declared or streamed)."""
        cap = self.config.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise Refused(413, "too_large", f"the body is over {cap:,} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise Refused(413, "too_large", f"the body is over {cap:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def authenticate(
        self, connection: sa.Connection, request: Request, account_id: int, body: bytes, *,
        query_token: bool = False,
    ) -> Verdict:  # fmt: skip
        """Who sent the request (a token, or the account's signature), or why nobody."""
        authorization = request.headers.get("authorization")
        if query_token and not authorization and request.query_params.get("token"):
            authorization = f"Bearer {request.query_params['token']}"
        headers = (
            request.headers.get("webhook-id"),
            request.headers.get("webhook-timestamp"),
            request.headers.get("webhook-signature"),
        )
        return authenticate(
            connection, account_id=account_id, authorization=authorization,
            webhook_headers=headers, body=body, box=self.runtime.box, now=self.runtime.clock(),
            tokens=self.tokens,
        )  # fmt: skip

    def check_address(self, request: Request) -> None:
        """Refuse with 429 and Retry-After an address this process saw locked (its failed
        authentications reached the allowance), without asking the store."""
        wait = self._locked.get(client_address(request), 0.0) - self.monotonic()
        if wait > 0:
            raise Refused(
                429, "rate_limited",
                "too many failed authentications from this address; retry later",
                {"Retry-After": retry_after_header(wait)},
            )  # fmt: skip

    def unauthorized(self, request: Request, problem: str | None) -> Refused:
        """A failed authentication, counted against the client's address when it is answered
        (:meth:`count_failure`): once, though a failed group does its deliveries twice."""
        refusal = Refused(
            401, "unauthorized", UNAUTHORIZED, {"WWW-Authenticate": "Bearer"},
            reason=f"unauthorized: {problem}",
        )  # fmt: skip
        refusal.failed_from = client_address(request)
        return refusal

    def count_failure(self, address: str) -> None:
        """Count a failed authentication from ``address`` in the store, in a transaction of its
        own (not the group's, which may be rolled back); a lock it reports is remembered."""
        now = self.runtime.clock()
        try:
            with self.writing(), self.runtime.db.write() as session:
                until = login_throttle.count_failure(
                    session=session, subject=f"ingest:{address}",
                    limit=self.config.auth_failures,
                    lockout=timedelta(seconds=self.config.auth_lockout_seconds), now=now,
                )  # fmt: skip
        except sa.exc.SQLAlchemyError:
            logger.warning("could not count a failed ingest authentication", exc_info=True)
            return
        if until is not None:
            with self._lock:
                if len(self._locked) > 10_000:
                    self._locked.clear()
                self._locked[address] = self.monotonic() + (until - now).total_seconds()

    def throttle(self, caller: Caller) -> None:
        """Refuse with 429 and Retry-After when the caller is over its rate."""
        wait = self.limiter.acquire(caller.rate_key)
        if wait > 0:
            raise Refused(
                429, "rate_limited",
                f"more than {self.config.rate_per_second:g} requests per second; retry later",
                {"Retry-After": retry_after_header(wait)},
            )  # fmt: skip

    def log_refusal(
        self, account_id: int, route: str, refusal: Refused, token_id: int | None,
        reason: str | None = None,
    ) -> None:  # fmt: skip
        """Record a refused delivery for the Integrations page. An account that does not exist
        gets no record, and the same refusal again within a second is not written again, so a
        flood of bad requests cannot fill the store."""
        reason = reason or refusal.message
        seen = (account_id, route, refusal.status, reason)
        now = self.monotonic()
        with self._lock:
            if now - self._refusals_logged.get(seen, -1e9) < 1.0:
                return
            if len(self._refusals_logged) > 10_000:
                self._refusals_logged.clear()
            self._refusals_logged[seen] = now
        delivery = delivery_log.Delivery(
            account_id=account_id, route=route, outcome=DeliveryOutcome.REJECTED,
            status_code=refusal.status, received_at=self.runtime.clock(), token_id=token_id,
            reason=reason,
        )  # fmt: skip
        try:
            with self.writing(), self.runtime.db.transaction() as connection:
                exists = connection.execute(
                    sa.text("SELECT 1 FROM account WHERE id = :id"), {"id": account_id}
                ).first()
                if exists:
                    delivery_log.record_delivery(connection, delivery)
        except sa.exc.SQLAlchemyError:
            logger.warning("could not record a refused ingest delivery", exc_info=True)

    def prune_due(self) -> bool:
        """Whether old deliveries are due to be forgotten (at most once a minute per process)."""
        return self.monotonic() >= self._next_prune

    def maybe_prune(self) -> None:
        """Forget old deliveries when due."""
        if not self.prune_due():
            return
        self._next_prune = self.monotonic() + self.config.prune_every_seconds
        try:
            with self.writing(), self.runtime.db.transaction() as connection:
                delivery_log.prune_deliveries(connection, now=self.runtime.clock())
        except sa.exc.SQLAlchemyError:
            logger.warning("could not prune old ingest deliveries", exc_info=True)

    def steps(
        self, session: Session, delivery: Delivery, shared: dict[Any, Any] | None = None
    ) -> tuple[Result, bool] | Later:
        """Authenticate, throttle, parse, and do the work with the delivery's record in the
        transaction of ``session``; a key seen before gets its stored answer (True: replayed).
        A refusal is raised as :class:`Refused` before anything is written. ``shared`` is kept
        across the deliveries of one transaction (a group commit): a bearer token is looked up
        once per transaction and its last use written once, and the key is not looked up before
        the work: a delivery seen before then fails its record's unique key, and the group is
        done again alone, where it is (a retry costs its group a second pass; a statement per
        event is saved). In a group, an input its route's :class:`Together` accepts is left to the
        group's end (a :class:`Later`)."""
        try:
            connection = session.connection()
            verdict = self._verdict(connection, delivery, shared)
            if verdict.caller is None:  # counted once answered, whichever pass answers it
                raise self.unauthorized(delivery.request, verdict.problem)
            caller = delivery.caller = verdict.caller
            if not delivery.throttled:  # done again alone after a failed group: counted once
                self.throttle(caller)
                delivery.throttled = True
            key = delivery.key = delivery_key(
                delivery.request, caller, delivery.body, adapter=delivery.adapter
            )
            payload = _parsed(delivery.body, delivery.parse)
            if (
                key is not None
                and shared is None
                and (stored := self._stored(connection, delivery))
            ):
                return stored, True
            if key is not None and shared is not None:
                earlier = shared.get(_RECORDS, {}).get((caller.account_id, key))
                if earlier is not None:  # the same delivery earlier in this group
                    return Result(earlier.status_code, earlier.answer or {}), True
            if shared is not None and delivery.together and delivery.together.accepts(payload):
                later = Later()
                shared.setdefault(_STAGED, []).append(
                    _Staged(delivery, caller, key, payload, verdict.touch, later)
                )
                return later
            try:
                result = _done(delivery.work, session, caller, payload)
            except Refused:
                # A delivery accepted before is answered as it was, even if it would fail now.
                if (
                    key is not None
                    and shared is not None
                    and (stored := self._stored(connection, delivery))
                ):
                    return stored, True
                raise
        except Refused as refusal:
            refusal.token_id = delivery.caller.token_id if delivery.caller else None
            raise
        session.flush()  # the delivery's record goes to the connection, past the session
        self._accepted(connection, shared, delivery.route, caller, key, result, verdict.touch)
        return result, False

    def _accepted(
        self, connection: sa.Connection, shared: dict[Any, Any] | None, route: str,
        caller: Caller, key: str | None, result: Result, touch: bool,
    ) -> None:  # fmt: skip
        """Record an accepted delivery (in a group, with the rest of the group's records, before
        its commit: :meth:`_finish_group`), and the token's last use when due."""
        now = self.runtime.clock()
        record = delivery_log.Delivery(
            account_id=caller.account_id, route=route, outcome=result.outcome,
            status_code=result.status, received_at=now, delivery_key=key,
            token_id=caller.token_id, items=result.items,
            answer=result.answer if key is not None else None,
        )  # fmt: skip
        if shared is None:
            delivery_log.record_delivery(connection, record)
        else:
            shared.setdefault(_RECORDS, {})[(caller.account_id, key or object())] = record
        if touch and caller.token_id is not None:
            touch_token(connection, token_id=caller.token_id, now=now)
            self.tokens.touched(caller.token_id, now)

    @staticmethod
    def _stored(connection: sa.Connection | Session, delivery: Delivery) -> Result | None:
        """The answer given to this delivery's key before, if it was accepted."""
        assert delivery.caller is not None and delivery.key is not None
        stored = delivery_log.stored_answer(
            connection, account_id=delivery.caller.account_id, delivery_key=delivery.key
        )
        return Result(stored[0], stored[1]) if stored is not None else None

    def _verdict(
        self, connection: sa.Connection, delivery: Delivery, shared: dict[Any, Any] | None
    ) -> Verdict:
        request = delivery.request
        authorization = request.headers.get("authorization")
        if shared is None or not authorization:
            return self.authenticate(
                connection, request, delivery.account_id, delivery.body,
                query_token=delivery.adapter,
            )  # fmt: skip
        seen = ("verdict", delivery.account_id, authorization)
        verdict: Verdict | None = shared.get(seen)
        if verdict is None:
            verdict = self.authenticate(
                connection, request, delivery.account_id, delivery.body,
                query_token=delivery.adapter,
            )  # fmt: skip
            shared[seen] = dataclasses.replace(verdict, touch=False)  # last use written once
        return verdict

    def process(self, delivery: Delivery) -> tuple[Result, bool]:
        """:meth:`steps` in a transaction of its own (one connection, one commit)."""
        try:
            with self.writing(), self.runtime.db.write() as session:
                done = self.steps(session, delivery)
                assert not isinstance(done, Later)  # only a group's deliveries are left to later
                return done
        except sa.exc.IntegrityError:
            # The same key committed by a concurrent request: answer as it was answered.
            caller, key = delivery.caller, delivery.key
            if caller is not None and key is not None:
                with self.runtime.db.read() as session:
                    stored = self._stored(session, delivery)
                if stored is not None:
                    return stored, True
            conflict = Refused(
                409, "conflict", "a concurrent request changed the same records; retry"
            )
            conflict.token_id = caller.token_id if caller else None
            raise conflict from None

    def _finish_group(self, session: Session, shared: dict[Any, Any]) -> None:
        """At a group's end, before its commit: the deliveries left to it, done together, then
        the records of the group's accepted deliveries, in one statement."""
        if staged := shared.pop(_STAGED, None):
            self._do_staged(session, shared, staged)
        if records := shared.get(_RECORDS):
            delivery_log.record_deliveries(session.connection(), list(records.values()))

    def _do_staged(self, session: Session, shared: dict[Any, Any], staged: list[_Staged]) -> None:
        """The group's staged deliveries: a key accepted before (one look-up for all) or earlier
        in the group is answered as it was; of several with one key, the first is done and the
        others answered as it was (or, when it was refused, judged afresh in a next round)."""
        connection = delivery_log.bare_connection(session)
        keys = [(s.caller.account_id, s.key) for s in staged if s.key is not None]
        stored = delivery_log.stored_answers(connection, list(dict.fromkeys(keys)))
        records = shared.setdefault(_RECORDS, {})
        pending = staged
        while pending:
            now: list[_Staged] = []
            waiting: list[_Staged] = []
            first: set[tuple[int, str]] = set()
            for item in pending:
                seen = (item.caller.account_id, item.key) if item.key is not None else None
                if seen is not None and (earlier := records.get(seen)) is not None:
                    answer = Result(earlier.status_code, earlier.answer or {})
                    item.later.settle(True, (answer, True))
                elif seen is not None and seen in stored:
                    item.later.settle(True, (Result(*stored[seen]), True))
                elif seen is not None and seen in first:
                    waiting.append(item)
                else:
                    if seen is not None:
                        first.add(seen)
                    now.append(item)
            by_work: dict[int, list[_Staged]] = {}
            for item in now:
                assert item.delivery.together is not None
                by_work.setdefault(id(item.delivery.together.work), []).append(item)
            for items in by_work.values():
                together = items[0].delivery.together
                assert together is not None
                outcomes = together.work(session, [(item.caller, item.payload) for item in items])
                for item, outcome in zip(items, outcomes, strict=True):
                    if isinstance(outcome, Result):
                        self._accepted(
                            connection, shared, item.delivery.route, item.caller, item.key,
                            outcome, item.touch,
                        )  # fmt: skip
                        item.later.settle(True, (outcome, False))
                    else:
                        refusal = _as_refusal(outcome)
                        refusal.token_id = item.caller.token_id
                        item.later.settle(False, refusal)
            pending = waiting

    @contextmanager
    def _group_transaction(self) -> Iterator[Session]:
        with self.writing(), self.runtime.db.write() as session:
            yield session

    async def deliver(
        self,
        request: Request,
        account_id: int,
        route: str,
        parse: Callable[[Any], Any],
        work: Callable[[Session, Caller, Any], Result],
        *,
        adapter: bool = False,
        grouped: bool = False,
        together: Together | None = None,
    ) -> Response:
        """Handle one write: ``parse`` turns the JSON into the work's input (raising
        ``ValidationError`` / ``InvalidInputError`` for a 422), ``work`` does it in the
        transaction (``NotFoundError`` → 404, ``InvalidInputError`` → 422). ``grouped``: the
        work refuses only before it writes, so it may share a transaction with others
        (:mod:`sync_engine.ingest.grouped`); ``together``: how its deliveries are done with
        the others of their group."""
        try:
            self.check_address(request)
            body = await self.read_body(request)
            delivery = Delivery(
                request, account_id, route, body, parse, work, adapter=adapter, together=together
            )
            if grouped:
                result, replayed = await self.group.submit(
                    lambda session, shared: self.steps(session, delivery, shared),
                    functools.partial(self.process, delivery),
                )
            else:
                result, replayed = await self.in_thread(self.process, delivery)
        except Refused as refusal:
            if refusal.failed_from is not None:
                await self.in_thread(self.count_failure, refusal.failed_from)
            if refusal.status != 429:  # a flood of 429s is not written to the store one by one
                await self.in_thread(
                    self.log_refusal, account_id, route, refusal, refusal.token_id,
                    refusal.reason,
                )  # fmt: skip
            return error_response(refusal.status, refusal.code, refusal.message, refusal.headers)
        except sa.exc.OperationalError:
            logger.warning("the store refused an ingest delivery", exc_info=True)
            return error_response(
                503, "store_unavailable", "the store cannot take writes now; retry later",
                {"Retry-After": "5"},
            )  # fmt: skip
        if self.prune_due():
            await self.in_thread(self.maybe_prune)
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return JSONResponse(result.answer, result.status, headers=headers)

    async def read(
        self, request: Request, account_id: int, work: Callable[[Session], dict[str, Any]]
    ) -> Response:
        """Handle one read: authenticated and rate-limited like a write, never recorded."""

        def run() -> Response:
            with self.writing(), self.runtime.db.read() as session:
                verdict = self.authenticate(session.connection(), request, account_id, b"")
                if verdict.caller is None:
                    raise self.unauthorized(request, verdict.problem)
                self.throttle(verdict.caller)
                answer = work(session)
            if verdict.touch and verdict.caller.token_id is not None:
                now = self.runtime.clock()
                with self.writing(), self.runtime.db.transaction() as connection:
                    touch_token(connection, token_id=verdict.caller.token_id, now=now)
                self.tokens.touched(verdict.caller.token_id, now)
            return JSONResponse(answer)

        try:
            self.check_address(request)
            return await self.in_thread(run)
        except Refused as refusal:
            if refusal.failed_from is not None:
                await self.in_thread(self.count_failure, refusal.failed_from)
            return error_response(refusal.status, refusal.code, refusal.message, refusal.headers)
        except NotFoundError as exc:
            return error_response(404, "not_found", str(exc))
        except sa.exc.OperationalError:
            logger.warning("the store refused an ingest read", exc_info=True)
            return error_response(
                503, "store_unavailable", "the store cannot be read now; retry later"
            )


def client_address(request: Request) -> str:
    """The address a request came from (behind a proxy on this machine, the one it forwards in
    X-Forwarded-For: uvicorn trusts 127.0.0.1 to tell it)."""
    return request.client.host if request.client else "unknown"


def delivery_key(request: Request, caller: Caller, body: bytes, *, adapter: bool) -> str | None:
    """What makes two requests the same delivery: the Standard Webhooks ``webhook-id`` (stable
    across a sender's retries), else ``Idempotency-Key``; for another platform's webhook without
    either, the body itself (its retries resend the same bytes)."""
    webhook_id = request.headers.get("webhook-id")
    idempotency_key = request.headers.get("idempotency-key")
    if caller.token_id is None and webhook_id:
        key = f"webhook:{webhook_id}"
    elif idempotency_key:
        key = f"key:{idempotency_key}"
    elif webhook_id:
        key = f"webhook:{webhook_id}"
    elif adapter:
        key = f"body:{hashlib.sha256(body).hexdigest()}"
    else:
        return None
    if len(key) > 200:
        raise Refused(
            422, "invalid", "the delivery id (webhook-id or Idempotency-Key) is over 190 characters"
        )
    return key


def _parsed(body: bytes, parse: Callable[[Any], Any]) -> Any:
    """The body as the work's input, or :class:`Refused` (400 not JSON, 422 invalid)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "bad_json", "the body is not JSON") from None
    try:
        return parse(document)
    except ValidationError as exc:
        raise Refused(422, "invalid", invalid_input(exc).args[0]) from None
    except InvalidInputError as exc:
        raise Refused(422, "invalid", str(exc)) from None


def _done(
    work: Callable[[Session, Caller, Any], Result], session: Session, caller: Caller, payload: Any
) -> Result:
    """The work's result, its refusals as :class:`Refused` (404 unknown, 422 invalid)."""
    try:
        return work(session, caller, payload)
    except (NotFoundError, InvalidInputError, ValidationError) as exc:
        raise _as_refusal(exc) from None


def _as_refusal(exc: BaseException) -> Refused:
    """A work's refusal as the answer it gets (404 unknown, 422 invalid); anything else is
    raised again (it fails the transaction)."""
    if isinstance(exc, Refused):
        return exc
    if isinstance(exc, NotFoundError):
        return Refused(404, "not_found", str(exc))
    if isinstance(exc, InvalidInputError):
        return Refused(422, "invalid", str(exc))
    if isinstance(exc, ValidationError):  # a value the services' models refuse
        return Refused(422, "invalid", invalid_input(exc).args[0])
    raise exc

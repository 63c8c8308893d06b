"""Verification runs: queued by staff, worked through in batches that resume, paced to a share of
the firm's budget, their findings stored with each contact.

:func:`request_verification` queues a run (audited); :func:`advance` works one run for a while
(the scheduler's job calls it every interval, the CLI until it is done), a batch of contacts at a
time, saving findings and progress after each batch so a run survives a restart. Requests go
through :class:`SharePacer`: at most ``share`` of the firm's rate for the verification, taken from
the same pacer the engine's sync uses when one is given, so syncing keeps the rest.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from sync_engine.clockwork.client import CallRecord, ClockworkClient, Credentials
from sync_engine.clockwork.errors import ClockworkAuthError, ClockworkError
from sync_engine.connections import credentials_of, get_connection
from sync_engine.engine.pacing import PacingDeferred, TokenBucket
from sync_engine.models import Account, AccountSettings, AuditEntry, ConnectionState
from sync_engine.runtime import Runtime
from sync_engine.verify.checker import Checker, Result, expectations, synced_contacts_query
from sync_engine.verify.models import CheckStatus, ContactCheck, VerifyRun, VerifyState

log = logging.getLogger(__name__)

BATCH = 50
# Seconds over which a verification beside syncing counts its share of the firm's requests.
SHARE_WINDOW = 2.0
DEFAULT_SHARE = 0.5


class VerifyError(ValueError):
    """A verification that cannot be started or run; the message is for people."""


class SharePacer:
    """A pacer giving a verification at most ``share`` of the firm's rate.

    Alone (no firm pacer) it spaces its requests at ``rate * share``. Beside the engine's sync it
    takes each slot from the firm's own pacer, and counts its requests over a sliding window of
    :data:`SHARE_WINDOW` seconds, sending only while it has used less than its share of them:
    spacing its own requests on top of the wait for the firm's slots would leave it well under
    its share; a window lets it catch up.
    """

    def __init__(
        self, rate: float, share: float, firm: TokenBucket | None = None,
        stop_at: Callable[[], float | None] = lambda: None,
    ) -> None:  # fmt: skip
        self.own = TokenBucket(max(rate * share, 0.05), max_wait=3600)
        self.firm = firm
        self.stop_at = stop_at
        self.limit = max(1, int(rate * share * SHARE_WINDOW))
        self._sent: deque[float] = deque()

    def acquire(self) -> None:
        """Wait for the verification's share, then for the firm's pacer."""
        if self.firm is None:
            self.own.acquire()
            return
        while True:
            now = time.monotonic()
            while self._sent and self._sent[0] <= now - SHARE_WINDOW:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                break
            time.sleep(self._sent[0] + SHARE_WINDOW - now)
        while True:
            try:
                self.firm.acquire()
                self._sent.append(time.monotonic())
                return
            except PacingDeferred as deferred:
                stop = self.stop_at()
                if stop is not None and time.monotonic() + deferred.delay > stop:
                    raise
                time.sleep(min(deferred.delay, 1.0))

    def throttled(self, retry_after: float | None) -> None:
        """Clockwork asked to slow down: both buckets hold back."""
        self.own.throttled(retry_after)
        if self.firm is not None:
            self.firm.throttled(retry_after)

    def answered(self) -> None:
        """An answer without a slow-down."""
        if self.firm is not None:
            self.firm.answered()


def stored_credentials(runtime: Runtime, account_id: int) -> Credentials:
    """The account's connection, decrypted for the client (a verification needs a live one)."""
    with runtime.db.read() as session:
        row = get_connection(session=session, account_id=account_id)
        if row is None or row.state != ConnectionState.CONNECTED:
            raise VerifyError("the account is not connected to Clockwork: connect it first")
    credentials = credentials_of(row, runtime.box)
    assert credentials is not None  # connected, so not disconnected
    return credentials


def firm_rate(runtime: Runtime, account_id: int) -> float:
    """The firm's requests/s budget: the account's own, else the default."""
    with runtime.db.read() as session:
        settings = session.get(AccountSettings, account_id)
    return (settings.max_rps if settings else None) or runtime.settings.default_max_rps


def _count(session: Session, run: VerifyRun, stride: int) -> int:
    query = synced_contacts_query(
        account_id=run.account_id, sequence_id=run.sequence_id, after=0, stride=stride,
        offset=run.id or 0,
    )  # fmt: skip
    return int(session.exec(select(func.count()).select_from(query.subquery())).one())


def _stride(session: Session, account_id: int, sequence_id: int | None, sample: int | None) -> int:
    if not sample:
        return 1
    everyone = synced_contacts_query(
        account_id=account_id, sequence_id=sequence_id, after=0, stride=1, offset=0
    )
    total = int(session.exec(select(func.count()).select_from(everyone.subquery())).one())
    return max(1, total // sample)


@dataclass(frozen=True)
class Plan:
    """What a verification would check and what it would cost, without a request sent."""

    contacts: int
    projects: int
    with_notes: int

    @property
    def estimated_reads(self) -> int:
        """One person read per contact, one notes read per contact with activity, and at least
        one candidates page per project."""
        return self.contacts + self.with_notes + self.projects


def plan(
    runtime: Runtime, *, account_id: int, sequence_id: int | None = None, sample: int | None = None
) -> Plan:
    """The dry run: how many contacts, projects and notes reads a verification would take."""
    with runtime.db.read() as session:
        stride = _stride(session, account_id, sequence_id, sample)
        ids = list(
            session.exec(
                synced_contacts_query(
                    account_id=account_id,
                    sequence_id=sequence_id,
                    after=0,
                    stride=stride,
                    offset=0,
                )
            )
        )
        if sample:
            ids = ids[:sample]
        found = expectations(session=session, contact_ids=ids, sequence_id=sequence_id)
    projects = {p for e in found for p in e.projects}
    return Plan(len(found), len(projects), sum(1 for e in found if e.notes))


def request_verification(
    runtime: Runtime,
    *,
    account_id: int,
    sequence_id: int | None = None,
    sample: int | None = None,
    actor: str,
) -> VerifyRun:
    """Queue a verification of the account (or one sequence), optionally of about ``sample``
    contacts spread over it; the engine works it in the background."""
    if sample is not None and sample < 1:
        raise VerifyError("sample: give a number of contacts of at least 1")
    stored_credentials(runtime, account_id)  # refuse at once when it cannot run
    now = runtime.clock()
    with runtime.db.write() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise VerifyError(f"no account {account_id}")
        active = session.exec(
            select(VerifyRun)
            .where(VerifyRun.account_id == account_id)
            .where(col(VerifyRun.state).in_((VerifyState.QUEUED, VerifyState.RUNNING)))
        ).first()
        if active is not None:
            return active
        run = VerifyRun(
            account_id=account_id, sequence_id=sequence_id, sample=sample,
            requested_by=actor, requested_at=now,
        )  # fmt: skip
        session.add(run)
        session.flush()
        stride = _stride(session, account_id, sequence_id, sample)
        total = _count(session, run, stride)
        run.total = min(total, sample) if sample else total
        session.add(
            AuditEntry(
                at=now,
                actor=actor,
                account_id=account_id,
                entity="verification",
                entity_id=str(run.id),
                field="requested",
                old_value=None,
                new_value=f"{run.total} contacts"
                + (f" of sequence {sequence_id}" if sequence_id else ""),
            )
        )
    return run


def _store(session: Session, run: VerifyRun, results: list[Result], now: datetime) -> int:
    drifted = 0
    for result in results:
        row = session.get(ContactCheck, result.contact_id) or ContactCheck(
            contact_id=result.contact_id, account_id=run.account_id, status=result.status
        )
        row.run_id, row.status, row.reason = run.id, result.status, result.reason
        row.findings = [f.to_json() for f in result.findings]
        row.checked_at, row.repaired_at = now, None
        session.add(row)
        drifted += result.status == CheckStatus.DRIFTED
    return drifted


def advance(
    runtime: Runtime,
    run_id: int,
    *,
    seconds: float | None = None,
    firm_pacer: TokenBucket | None = None,
    share: float = DEFAULT_SHARE,
    on_batch: Callable[[VerifyRun], None] | None = None,
) -> VerifyRun:
    """Work a run for up to ``seconds`` (to its end without), a batch at a time; returns it."""
    deadline = None if seconds is None else time.monotonic() + seconds
    with runtime.db.write() as session:
        run = session.get(VerifyRun, run_id)
        if run is None:
            raise VerifyError(f"no verification {run_id}")
        if run.state in (VerifyState.DONE, VerifyState.FAILED):
            return run
        if run.state == VerifyState.QUEUED:
            run.state, run.started_at = VerifyState.RUNNING, runtime.clock()
            session.add(run)
        stride = _stride(session, run.account_id, run.sequence_id, run.sample)
    try:
        credentials = stored_credentials(runtime, run.account_id)
    except VerifyError as exc:
        return _end(runtime, run_id, VerifyState.FAILED, str(exc))
    reads = 0

    def count(call: CallRecord) -> None:
        nonlocal reads
        reads += 1

    pacer = SharePacer(
        firm_rate(runtime, run.account_id), share, firm_pacer, stop_at=lambda: deadline
    )
    client: ClockworkClient = runtime.client(credentials, on_call=count, pacer=pacer)
    checker = Checker(client)
    try:
        while deadline is None or time.monotonic() < deadline:
            with runtime.db.read() as session:
                ids = list(
                    session.exec(
                        synced_contacts_query(
                            account_id=run.account_id,
                            sequence_id=run.sequence_id,
                            after=run.cursor,
                            stride=stride,
                            offset=run.id or 0,
                        ).limit(BATCH)
                    )
                )
                if run.sample:
                    ids = ids[: max(0, run.sample - run.checked)]
                found = expectations(session=session, contact_ids=ids, sequence_id=run.sequence_id)
            if not ids:
                return _end(runtime, run_id, VerifyState.DONE, None, total=run.checked)
            reads_before = reads
            by_id = {expected.contact_id: expected for expected in found}
            results: list[Result] = []
            done: list[int] = []
            stop: BaseException | None = None
            for contact_id in ids:
                if deadline is not None and done and time.monotonic() >= deadline:
                    break
                expected = by_id.get(contact_id)
                try:
                    if expected is not None:
                        results.append(checker.check(expected))
                except (PacingDeferred, ClockworkError) as exc:
                    stop = exc  # what was checked is kept; the next call resumes after it
                    break
                done.append(contact_id)
            if done:
                with runtime.db.write() as session:
                    stored = session.get(VerifyRun, run_id)
                    assert stored is not None
                    stored.drifted += _store(session, stored, results, runtime.clock())
                    stored.checked += len(done)
                    # Contacts synced since the run was requested are checked too.
                    stored.total = max(stored.total, stored.checked)
                    stored.reads += reads - reads_before
                    stored.cursor = done[-1]
                    session.add(stored)
                    run = stored
                if on_batch is not None:
                    on_batch(run)
            if stop is not None:
                raise stop
    except PacingDeferred:
        return run  # the interval's time is up; the next one carries on from the cursor
    except ClockworkAuthError:
        return _end(runtime, run_id, VerifyState.FAILED, "Clockwork rejected the credentials")
    except ClockworkError as exc:
        log.warning("verification %s paused: %s", run_id, exc)
        return run  # a passing fault: the next interval retries the batch
    finally:
        client.close()
    return run


def _end(
    runtime: Runtime, run_id: int, state: VerifyState, error: str | None,
    total: int | None = None,
) -> VerifyRun:  # fmt: skip
    with runtime.db.write() as session:
        run = session.get(VerifyRun, run_id)
        assert run is not None
        run.state, run.error, run.finished_at = state, error, runtime.clock()
        if total is not None:  # what was really checked: contacts synced meanwhile count too
            run.total = total
        session.add(run)
    return run


def pending_runs(runtime: Runtime) -> list[int]:
    """Runs waiting for the engine, oldest first."""
    with runtime.db.read() as session:
        ids = session.exec(
            select(VerifyRun.id)
            .where(col(VerifyRun.state).in_((VerifyState.QUEUED, VerifyState.RUNNING)))
            .order_by(col(VerifyRun.id))
        ).all()
    return [run_id for run_id in ids if run_id is not None]

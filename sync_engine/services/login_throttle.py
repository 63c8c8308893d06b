"""Slowing down password guessing: wrong-password counts kept in the store (``login_failure``).

Every attempt is counted *before* its password is checked, in one write transaction per attempt
(rows locked with ``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers),
so attempts sent in parallel cannot all pass a check made before any of them is counted: at most
the allowed number of passwords is ever checked. Counts are kept per username and per client
address; either reaching its limit locks that name or that client for a while, in every process
sharing the store and across restarts. A right password gives its attempt back. The ingest
API counts its failed authentications per client address here too (:func:`count_failure`).

Functions take ``*, session`` (a write session) and never open one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from sync_engine.db import upsert_insert
from sync_engine.models import LoginFailure, table_of
from sync_engine.services.auth import normalize_username


@dataclass(frozen=True)
class LockoutPolicy:
    """How many wrong passwords lock a username or a client, and for how long. Counts older
    than ``lockout`` are forgotten."""

    max_per_username: int = 5
    max_per_client: int = 10
    lockout: timedelta = timedelta(minutes=5)


DEFAULT_POLICY = LockoutPolicy()


@dataclass(frozen=True)
class Locked:
    """The attempt was refused: who is locked (``"username"`` or ``"client"``) and for how long."""

    by: str
    left: timedelta


def _subjects(username: str, client: str | None, policy: LockoutPolicy) -> dict[str, int]:
    """Row keys of the attempt and their limits (sorted, so concurrent lockers never deadlock)."""
    limits = {f"user:{normalize_username(username)[:190]}": policy.max_per_username}
    if client:
        limits[f"client:{client.strip()[:190]}"] = policy.max_per_client
    return dict(sorted(limits.items()))


def _locked_rows(session: Session, subjects: list[str]) -> list[LoginFailure]:
    """The rows of ``subjects`` (created at zero if absent), locked for this transaction."""
    table = table_of(LoginFailure)
    insert = upsert_insert(session.get_bind().dialect.name)
    session.execute(
        insert(table)
        .values([{"subject": subject, "failures": 0} for subject in subjects])
        .on_conflict_do_nothing(index_elements=[table.c.subject])
    )
    query = (
        select(LoginFailure)
        .where(col(LoginFailure.subject).in_(subjects))
        .order_by(col(LoginFailure.subject))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.exec(query).all())


def begin_attempt(
    *,
    session: Session,
    username: str,
    client: str | None,
    now: datetime,
    policy: LockoutPolicy = DEFAULT_POLICY,
) -> Locked | None:
    """Count one password attempt before it is checked: None when it may be checked (it counts
    as a failure until :func:`attempt_succeeded` says otherwise), or who is locked and how long."""
    limits = _subjects(username, client, policy)
    rows = _locked_rows(session, list(limits))
    locks = [
        Locked("username" if row.subject.startswith("user:") else "client", row.locked_until - now)
        for row in rows
        if row.locked_until is not None and row.locked_until > now
    ]
    if locks:
        return max(locks, key=lambda lock: lock.left)
    for row in rows:
        _count(row, limits[row.subject], policy.lockout, now)
        session.add(row)
    session.flush()
    return None


def _count(row: LoginFailure, limit: int, lockout: timedelta, now: datetime) -> None:
    """One more failure on ``row``: a count older than ``lockout`` (or ended by a lock) starts
    again; reaching ``limit`` locks the subject for ``lockout``."""
    stale = row.last_failure_at is None or now - row.last_failure_at >= lockout
    row.failures = 1 if stale or row.locked_until is not None else row.failures + 1
    row.last_failure_at = now
    row.locked_until = now + lockout if row.failures >= limit else None


def count_failure(
    *, session: Session, subject: str, limit: int, lockout: timedelta, now: datetime
) -> datetime | None:
    """Count one failed authentication of ``subject`` (another door than the dashboard's login,
    e.g. ``ingest:ADDRESS``) after it was checked; until when the subject is locked (None: it
    is not). The count is the store's, the same for every process sharing it."""
    (row,) = _locked_rows(session, [subject[:200]])
    if row.locked_until is not None and row.locked_until > now:
        return row.locked_until
    _count(row, limit, lockout, now)
    session.add(row)
    session.flush()
    return row.locked_until


def attempt_succeeded(
    *,
    session: Session,
    username: str,
    client: str | None,
    policy: LockoutPolicy = DEFAULT_POLICY,
) -> None:
    """The password was right: forget the username's failures and give the client its attempt
    back (lifting a lock that attempt set)."""
    limits = _subjects(username, client, policy)
    for row in _locked_rows(session, list(limits)):
        if row.subject.startswith("user:"):
            session.delete(row)
            continue
        row.failures = max(0, row.failures - 1)
        if row.failures < limits[row.subject]:
            row.locked_until = None
        session.add(row)
    session.flush()

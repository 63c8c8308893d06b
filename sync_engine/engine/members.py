"""Engines sharing a store split the accounts (firms) between them, so one firm is paced by one.

Each engine beats in ``engine_member`` while it runs passes; the members whose beat is younger
than the time to live are alive. An account belongs to the live member that ranks first for it
by rendezvous hashing among those still under their share of the connected accounts (bounded
loads: plain rendezvous gave one of three engines 26 of 63 firms and another 17), so a member
joining or leaving moves mostly the accounts it wins or held.
An engine takes work only for its own accounts; a member that stops cleanly leaves at once, one
that died on this machine (its process is gone) is dropped at the next beat, and any other dead
one's accounts go to the others once its heartbeat is older than the time to live.

Engines started together agree on who is alive before either claims anything: a joining member
writes its beat, then looks every 0.1 s until its view has stayed the same for 0.2 s (a member
that claimed every firm before it saw the others would pace them beside their owners, and draw
their 429s). Looking only reads; in its first seconds a member also looks at every discovery of
due work (``passes.DISCOVER_SECONDS``) rather than only at its 2 s beat, so it soon sees one
that started just after it, without taking SQLite's write lock from the workers for it.

The split is a preference for pacing, not a lock: claims still lease each enrollment
(``FOR UPDATE SKIP LOCKED``), so two engines briefly disagreeing about a firm (one's view of the
members a beat behind) never process anything twice.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

from sync_engine.db import Database
from sync_engine.models import ClockworkConnection, EngineMember, UTCDateTime, table_of

log = logging.getLogger(__name__)

# How often a member writes its beat, and reads who else is alive (monotonic seconds).
BEAT_SECONDS = 2.0
# In its first JOINING_SECONDS a member looks (reads only) who is alive at most this often.
JOINING_LOOK_SECONDS = 0.1
JOINING_SECONDS = 5.0
# Before its first claim a member's view must stay the same this long (what a lone member waits):
# engines started closer together than this see each other first.
AGREE_SECONDS = 0.2
# A member whose beat is older than this is taken to be gone (at least this; see time_to_live).
MIN_TIME_TO_LIVE = 15.0
# Rows of members gone this long are deleted by whichever member beats.
FORGET_AFTER = timedelta(hours=1)

_MEMBER = table_of(EngineMember)
_BEAT = (
    sa.update(_MEMBER)
    .where(_MEMBER.c.member == sa.bindparam("beat_member"))
    .values(beat_at=sa.bindparam("beat_at", type_=UTCDateTime))
)
_JOIN = sa.insert(_MEMBER).values(
    member=sa.bindparam("beat_member"), beat_at=sa.bindparam("beat_at", type_=UTCDateTime)
)
_ALIVE = sa.select(_MEMBER.c.member).where(
    _MEMBER.c.beat_at >= sa.bindparam("since", type_=UTCDateTime)
)
_CONNECTED = sa.select(table_of(ClockworkConnection).c.account_id)


def time_to_live(sync_interval_seconds: float) -> float:
    """How long a member's beat counts: three sync intervals (a scheduler beats once a pass),
    and never under ``MIN_TIME_TO_LIVE``."""
    return max(MIN_TIME_TO_LIVE, 3 * sync_interval_seconds)


def member_name(worker: str) -> str:
    """A member id unique to one engine object: its worker name and a random suffix (two
    engines in one process are two members)."""
    return f"{worker[:54]}:{uuid.uuid4().hex[:8]}"


def _rank(member: str, account_id: int) -> bytes:
    return hashlib.blake2b(f"{member}|{account_id}".encode(), digest_size=8).digest()


def owner(members: Iterable[str], account_id: int) -> str:
    """The member an account belongs to by plain rendezvous hashing: the highest hash of
    (member, account) (for an account not yet in :func:`split`'s list)."""
    return max(members, key=lambda member: _rank(member, account_id))


def split(members: Collection[str], accounts: Iterable[int]) -> dict[int, str]:
    """Each account's member, no member over its share (the accounts ÷ the members, rounded up):
    accounts taken in the order of their own hash, each by its highest-ranked member with room."""
    ordered = sorted(set(accounts), key=lambda a: hashlib.blake2b(str(a).encode()).digest())
    share = math.ceil(len(ordered) / max(len(members), 1))
    load = dict.fromkeys(members, 0)
    owners = {}
    for account_id in ordered:
        ranked = sorted(members, key=lambda member: _rank(member, account_id), reverse=True)
        chosen = next(member for member in ranked if load[member] < share)
        owners[account_id] = chosen
        load[chosen] += 1
    return owners


def _died_here(member: str) -> bool:
    """Whether ``member`` was an engine process of this machine that no longer runs (a process
    killed and restarted need not wait out its predecessor's time to live)."""
    host, _, rest = member.partition(":")
    pid, _, _suffix = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


class Membership:
    """One engine's membership: its beat, the live members, and which accounts are its own."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        member: str,
        ttl_seconds: float,
        enabled: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db = db
        self.clock = clock
        self.member = member
        self.ttl = timedelta(seconds=ttl_seconds)
        self.enabled = enabled
        self._sleep = sleep
        self._settled = False
        self._beaten_at = float("-inf")
        self._looked_at = float("-inf")
        self._joined_at: float | None = None
        self._alive: tuple[str, ...] = (member,)
        self._accounts: frozenset[int] = frozenset()
        self._owners: dict[int, str] = {}

    def alive(self) -> tuple[str, ...]:
        """The live members, this one included (beats at most every BEAT_SECONDS; just after
        joining it also looks, reading only, every JOINING_LOOK_SECONDS)."""
        now = time.monotonic()
        joining = self._joined_at is None or now - self._joined_at < JOINING_SECONDS
        if now - self._beaten_at >= BEAT_SECONDS:
            self.beat()
        elif joining and now - self._looked_at >= JOINING_LOOK_SECONDS:
            self.look()
        return self._alive

    def beat(self) -> None:
        """Write this member's beat and read who else is alive."""
        now = self.clock()
        try:
            with self.db.transaction() as connection:
                params = {"beat_member": self.member, "beat_at": now}
                if connection.execute(_BEAT, params).rowcount == 0:
                    connection.execute(_JOIN, params)
                connection.execute(
                    sa.delete(_MEMBER).where(_MEMBER.c.beat_at < now - self.ttl - FORGET_AFTER)
                )
                alive = connection.execute(_ALIVE, {"since": now - self.ttl}).scalars().all()
                gone = [m for m in alive if m != self.member and _died_here(m)]
                if gone:
                    connection.execute(sa.delete(_MEMBER).where(_MEMBER.c.member.in_(gone)))
                    alive = [m for m in alive if m not in gone]
                accounts = frozenset(connection.execute(_CONNECTED).scalars().all())
        except Exception:  # the store's trouble shows in the pass; keep the last view meanwhile
            log.exception("could not write the engine's heartbeat")
            return
        self._see(alive, accounts)
        self._beaten_at = self._looked_at
        if self._joined_at is None:
            self._joined_at = self._beaten_at

    def look(self) -> None:
        """Read who is alive, writing nothing (a member that died here is left out of the view;
        the next beat deletes it)."""
        try:
            with self.db.engine.connect() as connection:
                since = self.clock() - self.ttl
                alive = connection.execute(_ALIVE, {"since": since}).scalars().all()
                accounts = frozenset(connection.execute(_CONNECTED).scalars().all())
        except Exception:
            log.exception("could not read the engines' heartbeats")
            return
        self._see([m for m in alive if m == self.member or not _died_here(m)], accounts)

    def _see(self, alive: Iterable[str], accounts: frozenset[int]) -> None:
        members = tuple(sorted({*alive, self.member}))
        if (members, accounts) != (self._alive, self._accounts):
            self._owners = split(members, accounts)
        self._alive, self._accounts = members, accounts
        self._looked_at = time.monotonic()

    def settle(self) -> None:
        """Once after joining: beat, then look every ``JOINING_LOOK_SECONDS`` until the view has
        stayed the same for ``AGREE_SECONDS`` (at most ``JOINING_SECONDS``), so members started
        together see each other before claiming."""
        if self._settled:
            return
        self.beat()
        agreeing = round(AGREE_SECONDS / JOINING_LOOK_SECONDS)  # looks with the same view
        seen, unchanged = self._alive, 0
        for _ in range(round(JOINING_SECONDS / JOINING_LOOK_SECONDS)):
            if unchanged >= agreeing:
                break
            self._sleep(JOINING_LOOK_SECONDS)
            self.look()
            unchanged = unchanged + 1 if self._alive == seen else 0
            seen = self._alive
        self._settled = True

    def mine(self, due: dict[int, int]) -> dict[int, int]:
        """The part of ``due`` (account → count) that belongs to this member."""
        if not self.enabled or not due:
            return due
        self.settle()
        members = self.alive()
        if len(members) == 1:
            return due
        return {account: n for account, n in due.items() if self.owns(account)}

    def owns(self, account_id: int) -> bool:
        """Whether the account is this member's by the last view of the members."""
        if not self.enabled or len(self._alive) == 1:
            return True
        return (self._owners.get(account_id) or owner(self._alive, account_id)) == self.member

    def leave(self) -> None:
        """Stop counting as alive (a clean stop: the others take this member's accounts now)."""
        if not self.enabled:
            return
        try:
            with self.db.transaction() as connection:
                connection.execute(sa.delete(_MEMBER).where(_MEMBER.c.member == self.member))
        except Exception:
            log.exception("could not remove the engine's heartbeat")
        self._beaten_at = self._looked_at = float("-inf")
        self._joined_at = None
        self._settled = False
        self._alive = (self.member,)

"""Engines sharing a store split the accounts (firms) between them, so one firm is paced by one.

Each engine beats in ``engine_member`` while it runs passes; the members whose beat is younger
than the time to live are alive. An account belongs to the live member that ranks first for it
by rendezvous hashing, so a member joining or leaving moves only the accounts it wins or held.
An engine takes work only for its own accounts; a member that stops cleanly leaves at once, one
that died on this machine (its process is gone) is dropped at the next beat, and any other dead
one's accounts go to the others once its heartbeat is older than the time to live.

The split is a preference for pacing, not a lock: claims still lease each enrollment
(``FOR UPDATE SKIP LOCKED``), so two engines briefly disagreeing about a firm (one's view of the
members a beat behind) never process anything twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa

from sync_engine.db import Database
from sync_engine.models import EngineMember, UTCDateTime, table_of

log = logging.getLogger(__name__)

# How often a member writes its beat, and reads who else is alive (monotonic seconds).
BEAT_SECONDS = 2.0
# Engines started together see each other within a beat: until then, each looks again this often.
JOINING_BEAT_SECONDS = 0.25
JOINING_SECONDS = 5.0
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


def time_to_live(sync_interval_seconds: float) -> float:
    """How long a member's beat counts: three sync intervals (a scheduler beats once a pass),
    and never under ``MIN_TIME_TO_LIVE``."""
    return max(MIN_TIME_TO_LIVE, 3 * sync_interval_seconds)


def member_name(worker: str) -> str:
    """A member id unique to one engine object: its worker name and a random suffix (two
    engines in one process are two members)."""
    return f"{worker[:54]}:{uuid.uuid4().hex[:8]}"


def owner(members: Iterable[str], account_id: int) -> str:
    """The member an account belongs to: the highest rendezvous hash of (member, account)."""

    def rank(member: str) -> bytes:
        return hashlib.blake2b(f"{member}|{account_id}".encode(), digest_size=8).digest()

    return max(members, key=rank)


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
    ) -> None:
        self.db = db
        self.clock = clock
        self.member = member
        self.ttl = timedelta(seconds=ttl_seconds)
        self.enabled = enabled
        self._beaten_at = float("-inf")
        self._joined_at: float | None = None
        self._alive: tuple[str, ...] = (member,)

    def alive(self) -> tuple[str, ...]:
        """The live members, this one included (beats and reads at most every BEAT_SECONDS, more
        often just after joining)."""
        now = time.monotonic()
        joining = self._joined_at is None or now - self._joined_at < JOINING_SECONDS
        if now - self._beaten_at >= (JOINING_BEAT_SECONDS if joining else BEAT_SECONDS):
            self.beat()
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
        except Exception:  # the store's trouble shows in the pass; keep the last view meanwhile
            log.exception("could not write the engine's heartbeat")
            return
        self._alive = tuple(sorted({*alive, self.member}))
        self._beaten_at = time.monotonic()
        if self._joined_at is None:
            self._joined_at = self._beaten_at

    def mine(self, due: dict[int, int]) -> dict[int, int]:
        """The part of ``due`` (account → count) that belongs to this member."""
        if not self.enabled or not due:
            return due
        members = self.alive()
        if len(members) == 1:
            return due
        return {account: n for account, n in due.items() if owner(members, account) == self.member}

    def leave(self) -> None:
        """Stop counting as alive (a clean stop: the others take this member's accounts now)."""
        if not self.enabled:
            return
        try:
            with self.db.transaction() as connection:
                connection.execute(sa.delete(_MEMBER).where(_MEMBER.c.member == self.member))
        except Exception:
            log.exception("could not remove the engine's heartbeat")
        self._beaten_at = float("-inf")
        self._joined_at = None
        self._alive = (self.member,)

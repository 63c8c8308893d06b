"""The engines' split of the accounts: rendezvous ownership, heartbeats, dead members dropped."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.engine import members
from sync_engine.engine.members import (
    JOINING_LOOK_SECONDS,
    Membership,
    owner,
    split,
    time_to_live,
)
from sync_engine.runtime import Runtime
from tests.factories import FakeClock, make_connected_account, make_runtime


def _membership(rt: Runtime, member: str) -> Membership:
    return Membership(rt.db, rt.clock, member=member, ttl_seconds=time_to_live(5))


def test_a_member_leaving_moves_only_its_own_accounts() -> None:
    three = ("a", "b", "c")
    before = {account: owner(three, account) for account in range(300)}
    after = {account: owner(("a", "c"), account) for account in range(300)}
    moved = {account for account in before if before[account] != after[account]}
    assert moved == {account for account, member in before.items() if member == "b"}
    assert 60 < len(moved) < 140  # about a third each


def test_members_alive_by_heartbeat_and_a_dead_process_of_this_machine_dropped_at_once(
    sqlite_url: str, clock: FakeClock
) -> None:
    rt = make_runtime(sqlite_url, clock=clock)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    here = socket.gethostname()
    dead = _membership(rt, f"{here}:{gone.stdout.strip()}:dead")
    elsewhere = _membership(rt, "other-host:1:remote")
    me = _membership(rt, f"{here}:1:me")  # pid 1 runs: not taken for dead
    for member in (dead, elsewhere, me):
        member.beat()
    assert set(me.alive()) == {f"{here}:1:me", "other-host:1:remote"}
    clock.advance(time_to_live(5) + 1)  # the remote member's beat is too old now
    me.beat()
    assert me.alive() == (f"{here}:1:me",)
    assert me.mine({1: 2, 2: 3}) == {1: 2, 2: 3}
    rt.close()


def test_no_member_holds_more_than_its_share_and_a_leaver_moves_little() -> None:
    members = ("host:1:5f0c2a91", "host:2:0b7d33e4", "host:3:c2a8e610")
    accounts = range(1, 65)  # 60 firms and four troubled ones, as the many-firms bench
    plain = Counter(owner(members, a) for a in accounts)
    balanced = split(members, accounts)
    assert max(plain.values()) > 22  # plain rendezvous: one member well over its share
    assert max(Counter(balanced.values()).values()) == 22  # 64 ÷ 3, rounded up
    assert split(tuple(reversed(members)), accounts) == balanced  # every member computes the same
    two = split(members[:2], accounts)
    moved = {a for a in accounts if balanced[a] != members[2] and two[a] != balanced[a]}
    assert len(moved) <= 4  # besides the leaver's own


@pytest.mark.parametrize("looks_later", [0, 1], ids=["at a's first look", "at its second"])
def test_engines_started_together_see_each_other_before_the_first_claim(
    sqlite_url: str,
    clock: FakeClock,
    sim: SimulatorState,
    sim_server: SimulatorServer,
    looks_later: int,
) -> None:
    """b joins while a agrees on who is alive: just after a's beat, or one look (0.1 s) later,
    when a's first look has already seen no one new."""
    rt = make_runtime(sqlite_url, clock=clock)
    url = sim_server.base_url
    accounts = [make_connected_account(rt, f"Firm {n}", base_url=url) for n in range(12)]
    late = _membership(rt, "b")
    joined: list[float] = []

    def others_join(seconds: float) -> None:
        if len(joined) == looks_later:
            late.beat()
        joined.append(seconds)

    first = Membership(rt.db, rt.clock, member="a", ttl_seconds=time_to_live(5), sleep=others_join)
    due = dict.fromkeys(accounts, 1)
    mine = first.mine(due)
    late.beat()
    assert set(mine).isdisjoint(late.mine(due))  # a took only its own: it saw b first
    assert set(mine) | set(late.mine(due)) == set(due)
    assert 0 < len(mine) < len(due)
    rt.close()


def test_a_joining_member_looks_often_without_taking_the_write_lock(
    sqlite_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The looks of a member's first seconds only read: SQLite's write lock, held by a worker
    (here a bare connection), does not hold them up, and they still see a member that joined."""
    monkeypatch.setattr(members, "BEAT_SECONDS", 3600.0)  # a slow machine: still a look, no beat
    rt = make_runtime(sqlite_url, clock=clock)
    me, other = _membership(rt, "a"), _membership(rt, "b")
    me.settle()
    other.beat()
    holder = sqlite3.connect(rt.db.engine.url.database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    time.sleep(JOINING_LOOK_SECONDS)  # the next look is due
    seen: list[tuple[str, ...]] = []
    looking = threading.Thread(target=lambda: seen.append(me.alive()))
    looking.start()
    looking.join(timeout=5)
    held = looking.is_alive()
    holder.execute("ROLLBACK")
    looking.join()
    holder.close()
    assert not held, "a joining member's look waited for the write lock"
    assert seen == [("a", "b")]
    rt.close()

"""The engines' split of the accounts: rendezvous ownership, heartbeats, dead members dropped."""

from __future__ import annotations

import socket
import subprocess
import sys

from sync_engine.engine.members import Membership, owner, time_to_live
from sync_engine.runtime import Runtime
from tests.factories import FakeClock, make_runtime


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

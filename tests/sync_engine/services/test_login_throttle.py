"""The wrong-password lockout in the store (issue 12, item 5): counted before the password is
checked, atomically under concurrent attempts, per username and per client, across restarts."""

from __future__ import annotations

import threading
from datetime import timedelta

from sync_engine.db import Database
from sync_engine.services import auth, login_throttle
from sync_engine.services.login_throttle import Locked, LockoutPolicy
from tests.factories import FakeClock

POLICY = LockoutPolicy(max_per_username=5, max_per_client=10, lockout=timedelta(minutes=5))


def _attempt(db: Database, clock: FakeClock, name: str, client: str | None) -> Locked | None:
    with db.write() as session:
        return login_throttle.begin_attempt(
            session=session, username=name, client=client, now=clock(), policy=POLICY
        )


def test_parallel_wrong_passwords_check_no_more_than_the_allowed_number(
    database_url: str,
) -> None:
    db = Database(database_url)
    clock = FakeClock()
    wrong = auth.hash_password("the real password, unknown to them")
    checked: list[bool] = []
    refused: list[Locked] = []
    start = threading.Barrier(15)

    def guess(number: int) -> None:
        start.wait()
        locked = _attempt(db, clock, "Alice", f"10.0.0.{number}")  # 15 tabs, 15 addresses
        if locked is not None:
            refused.append(locked)
            return
        checked.append(auth.verify_password(f"guess {number}", wrong))

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(15)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.dispose()

    assert len(checked) == 5 and not any(checked)
    assert len(refused) == 10
    assert {lock.by for lock in refused} == {"username"}


def test_the_lockout_survives_a_restart_and_ends_after_five_minutes(database_url: str) -> None:
    clock = FakeClock()
    db = Database(database_url)
    for _ in range(5):
        assert _attempt(db, clock, "alice", None) is None
    db.dispose()

    restarted = Database(database_url)  # a new process on the same store
    locked = _attempt(restarted, clock, "ALICE ", None)
    assert locked == Locked("username", timedelta(minutes=5))
    assert _attempt(restarted, clock, "victor", None) is None  # other names are not affected
    clock.advance(299)
    assert _attempt(restarted, clock, "alice", None) == Locked("username", timedelta(seconds=1))
    clock.advance(1)
    assert _attempt(restarted, clock, "alice", None) is None  # the count starts again
    for _ in range(3):
        assert _attempt(restarted, clock, "alice", None) is None
    assert _attempt(restarted, clock, "alice", None) is None  # 5th of the new count
    assert _attempt(restarted, clock, "alice", None) is not None
    restarted.dispose()


def test_one_client_trying_many_usernames_is_locked_out(database_url: str) -> None:
    db = Database(database_url)
    clock = FakeClock()
    for number in range(10):
        assert _attempt(db, clock, f"user{number}", "203.0.113.7") is None
    assert _attempt(db, clock, "someone-else", "203.0.113.7") == Locked(
        "client", timedelta(minutes=5)
    )
    assert _attempt(db, clock, "someone-else", "198.51.100.1") is None
    db.dispose()


def test_a_right_password_clears_the_username_and_gives_the_client_its_attempt_back(
    database_url: str,
) -> None:
    db = Database(database_url)
    clock = FakeClock()
    for _ in range(4):
        assert _attempt(db, clock, "alice", "192.0.2.1") is None
    assert _attempt(db, clock, "alice", "192.0.2.1") is None  # the 5th: right this time
    with db.write() as session:
        login_throttle.attempt_succeeded(
            session=session, username="alice", client="192.0.2.1", policy=POLICY
        )
    assert _attempt(db, clock, "alice", "192.0.2.1") is None
    for number in range(5):  # 5 counted, 1 given back, 1 more: 5 more reach the 10
        assert _attempt(db, clock, f"other{number}", "192.0.2.1") is None
    assert _attempt(db, clock, "other9", "192.0.2.1") == Locked("client", timedelta(minutes=5))
    db.dispose()


def test_old_failures_are_forgotten(database_url: str) -> None:
    db = Database(database_url)
    clock = FakeClock()
    for _ in range(4):
        assert _attempt(db, clock, "alice", None) is None
    clock.advance(300)
    assert _attempt(db, clock, "alice", None) is None
    assert _attempt(db, clock, "alice", None) is None  # counted 2, not 6
    db.dispose()

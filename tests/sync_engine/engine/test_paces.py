"""The learned paces engines keep in the store: a firm's first at once, changes now and then."""

from __future__ import annotations

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.engine.lanes import Lane
from sync_engine.engine.paces import PaceBook, recall_many
from sync_engine.engine.pacing import TokenBucket
from tests.factories import FakeClock, make_connected_account, make_runtime


def test_a_firms_first_learned_pace_is_written_at_once_and_its_changes_at_most_every_3_s(
    sqlite_url: str, clock: FakeClock, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    rt = make_runtime(sqlite_url, clock=clock)
    first, second = (make_connected_account(rt, name, base_url=sim_server.base_url)
                     for name in ("First", "Second"))  # fmt: skip
    lanes = {a: Lane(account_id=a, pacer=TokenBucket(10.0, adaptive=True)) for a in (first, second)}
    now = [100.0]
    book = PaceBook(rt.db, clock=lambda: now[0])

    def stored(account_id: int) -> tuple[float, float] | None:
        with rt.db.read() as session:
            return recall_many(session, [account_id]).get(account_id)

    book.save(lanes)
    assert stored(first) is None  # nothing learned yet: nothing written
    lanes[first].pacer.throttled(None)  # its first 429: it learns a ceiling
    now[0] += 0.5
    book.save(lanes)
    assert stored(first) == lanes[first].pacer.learned()
    now[0] += 1.0  # the second firm learns 1 s after the first was written: written at once
    lanes[second].pacer.throttled(None)
    book.save(lanes)
    assert stored(second) == lanes[second].pacer.learned()
    lanes[first].pacer.adopt(5.0, 6.0)
    now[0] += 1.0  # a change 2 s after the first firm's write waits
    book.save(lanes)
    assert stored(first) != (5.0, 6.0)
    now[0] += 1.0
    book.save(lanes)
    assert stored(first) == (5.0, 6.0)
    rt.close()

"""The API only writes the store: what it accepted while no engine ran is synced by the engine's
next pass, each event as one note in Clockwork, however often it was delivered."""

from __future__ import annotations

from clockwork_simulator import SimulatorState
from sync_engine.engine.passes import Engine
from sync_engine.models import EnrollmentStatus
from tests.factories import SIM_FIRM
from tests.ingest.conftest import Api


def test_events_accepted_with_no_engine_running_reach_clockwork_at_its_next_pass(
    api: Api, sim: SimulatorState
) -> None:
    assert api.put_sequence("seq-1").status_code == 201
    contacts = [{"email": f"lead{i}@example.com", "first_name": f"Lead{i}"} for i in range(3)]
    batch = api.call("POST", "/sequences/seq-1/contacts/batch", {"contacts": contacts})
    assert batch.json()["accepted"] == 3
    api.clock.advance(1)  # events happen after the contacts were added
    for i in range(3):
        event = {"kind": "replied", "sequence": "seq-1", "email": f"lead{i}@example.com",
                 "subject": f"Re: hello {i}"}  # fmt: skip
        for _ in range(2):  # each delivered twice
            answer = api.call("POST", "/events", event, headers={"Idempotency-Key": f"e{i}"})
            assert answer.status_code == 201
    assert sim.snapshot(SIM_FIRM)["people"] == []  # nothing reached Clockwork yet

    engine = Engine(api.runtime)
    try:
        counts = engine.run_until_idle(timeout=60)
    finally:
        engine.close()
    assert not counts.get("timed_out"), counts
    snapshot = sim.snapshot(SIM_FIRM)
    assert len(snapshot["people"]) == 3
    notes = [note["content"] for note in snapshot["notes"]]
    for i in range(3):
        assert sum(f"Re: hello {i}" in note for note in notes) == 1
    status = api.call("GET", "/sequences/seq-1/contacts/lead0@example.com").json()
    assert status["status"] == EnrollmentStatus.SYNCED
    assert status["activities"]["synced"] == 1

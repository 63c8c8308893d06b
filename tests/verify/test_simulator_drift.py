"""The simulator's drift controls keep the contract's view consistent, and survive save/load."""

from __future__ import annotations

from pathlib import Path

import pytest

from clockwork_simulator import SimulatorState
from clockwork_simulator.state import UnknownRecord
from tests.factories import SIM_FIRM, make_sim_state


def _state() -> tuple[SimulatorState, str, str, str]:
    state = make_sim_state()
    project = state.snapshot(SIM_FIRM)["projects"][0]["id"]
    a = state.seed_person(SIM_FIRM, first_name="Ada", last_name="L", emails=["ada@example.com"])
    b = state.seed_person(SIM_FIRM, first_name="Ada", last_name="Lovelace")
    state.add_candidacy(SIM_FIRM, project, person_id=a["id"])
    state.create_note(SIM_FIRM, a["id"], content="hi", content_type="text/html", category="Email")
    return state, project, a["id"], b["id"]


def test_a_merged_person_answers_with_the_survivor_which_gets_its_email_project_and_notes(
    tmp_path: Path,
) -> None:
    state, project, loser, survivor = _state()
    state.merge_person(SIM_FIRM, loser, into=survivor)
    assert state.get_person(SIM_FIRM, loser)["id"] == survivor
    hits, _ = state.search_people(SIM_FIRM, "ada@example.com", limit=10, page=1)
    assert [p["id"] for p in hits] == [survivor]
    candidacies = state.list_candidacies(
        SIM_FIRM, project, limit=100, offset=0, include_person=False
    )
    assert [c["personId"] for c in candidacies] == [survivor]
    assert len(state.list_notes(SIM_FIRM, survivor, limit=100, offset=0)) == 1
    with pytest.raises(UnknownRecord):
        state.list_notes(SIM_FIRM, loser, limit=100, offset=0)
    state.save(tmp_path / "sim.json")
    again = SimulatorState()
    again.load(tmp_path / "sim.json")
    assert again.get_person(SIM_FIRM, loser)["id"] == survivor


def test_deleting_a_person_removes_it_from_search_projects_and_notes() -> None:
    state, project, person, _ = _state()
    state.delete_person(SIM_FIRM, person)
    with pytest.raises(UnknownRecord):
        state.get_person(SIM_FIRM, person)
    assert state.search_people(SIM_FIRM, "ada@example.com", limit=10, page=1) == ([], 0)
    assert state.list_candidacies(SIM_FIRM, project, limit=100, offset=0, include_person=True) == []
    assert state.snapshot(SIM_FIRM)["notes"] == []


def test_a_candidacy_and_a_note_can_be_removed_one_by_one() -> None:
    state, project, person, _ = _state()
    note = state.list_notes(SIM_FIRM, person, limit=100, offset=0)[0]
    state.remove_candidacy(SIM_FIRM, project, person)
    state.delete_note(SIM_FIRM, note["id"])
    assert (
        state.list_candidacies(SIM_FIRM, project, limit=100, offset=0, include_person=False) == []
    )
    assert state.list_notes(SIM_FIRM, person, limit=100, offset=0) == []
    state.add_candidacy(SIM_FIRM, project, person_id=person)  # may be added again
    with pytest.raises(UnknownRecord):
        state.delete_note(SIM_FIRM, note["id"])

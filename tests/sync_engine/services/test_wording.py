"""The engine's records in staff's words (``services/wording.py``): no code, path or id left."""

from __future__ import annotations

import pytest

from sync_engine.clockwork.contract import Endpoint
from sync_engine.services import wording
from sync_engine.services.queries import reason_texts


@pytest.mark.parametrize(
    ("count", "word", "words"),
    [
        (1, "activity", "1 activity"),
        (3, "activity", "3 activities"),
        (0, "contact", "0 contacts"),
        (1, "contact", "1 contact"),
        (12_500, "contact", "12,500 contacts"),
        (2, "request to Clockwork", "2 requests to Clockwork"),
    ],
)
def test_counts_agree_with_their_noun(count: int, word: str, words: str) -> None:
    assert wording.plural(count, word) == words


def test_an_engine_pass_reads_as_what_it_did() -> None:
    assert wording.trigger_words("scheduler") == "Scheduled pass"
    assert wording.run_counts_words({"claimed": 3, "synced": 2, "retrying": 1}) == (
        "3 taken from the queue, 2 synced, 1 to be retried"
    )
    assert wording.run_counts_words({"claimed": 0}) == "Nothing to do"


def test_a_clockwork_request_and_its_answer_read_as_words() -> None:
    assert wording.request_words("POST", "/people/{id}/linkedin_urls") == (
        "Add a LinkedIn URL to a person"
    )
    assert wording.answer_words(422) == "Refused the data"
    assert wording.answer_words(429) == "Asked us to slow down"
    assert wording.answer_words(None) == "No answer (network)"
    assert wording.answer_words(201) == "OK"


def test_every_request_the_client_can_send_has_words_and_no_other() -> None:
    routes = {(endpoint.value.method, endpoint.value.path_template) for endpoint in Endpoint}
    assert set(wording.REQUEST_WORDS) == routes


def test_the_actor_of_a_change_reads_as_a_person_or_the_engine() -> None:
    assert wording.actor_words("cli:root") == "root (command line)"
    assert wording.actor_words("engine") == "Sync engine"
    assert wording.actor_words("casey@cs") == "casey@cs"


def _audit(entity: str, field: str, old: str | None, new: str | None, subject: str | None = None):
    return wording.audit_words(
        entity=entity, field=field, old=old, new=new, subject=subject,
        projects={"5f0c2a4e-1111-4a4a-8888-000000000001": "VP Engineering — Northwind"},
        status_words=reason_texts.STATUS_LABELS,
        reason_words={code: info.message for code in ("validation_error",)
                      if (info := reason_texts.reason_info(code))},
    )  # fmt: skip


def test_an_audit_entry_names_settings_projects_and_statuses_in_words() -> None:
    tracking = _audit("settings", "activity_tracking", "off", "on")
    assert (tracking.what, tracking.field, tracking.old, tracking.new) == (
        "Sync settings", "Activity tracking", "Off", "On",
    )  # fmt: skip
    project = _audit("settings", "default_project_id", None, "5f0c2a4e-1111-4a4a-8888-000000000001")
    assert (project.field, project.new) == ("Default project", "VP Engineering — Northwind")
    mode = _audit("settings", "sync_mode", "on_add", "on_reply")
    assert (mode.old, mode.new) == ("When added to a sequence", "Only when they reply")
    retried = _audit("enrollment", "status", "failed (validation_error)", "queued (retry)", "a@b.c")
    assert retried.what == "Contact a@b.c"
    assert retried.old == "Failed: Clockwork refused the contact's data"
    assert retried.new == "Queued: retry"
    assert _audit("account", "activity_backfill", None, "1 activities queued").new == (
        "1 activity queued"
    )
    resync = _audit("sequence", "resync_project", None, "1 added to proj-gone, 2 already there")
    assert resync.new == "1 contact added to a project Clockwork does not list, 2 already there"
    named = _audit(
        "sequence", "resync_project", None,
        "3 added to 5f0c2a4e-1111-4a4a-8888-000000000001, 0 already there",
    )  # fmt: skip
    assert named.new == "3 contacts added to VP Engineering — Northwind, 0 already there"
    choice = _audit("enrollment", "review_choice", None, "link person 0b8f5a9e-6c1d", "a@b.c")
    assert (choice.field, choice.new) == ("Clockwork person chosen", "Link the chosen person")
    assert _audit("connection", "credentials", None, "set").new == "Saved"
    assert _audit("connection", "credentials", None, "updated").new == "Replaced"
    state = _audit("connection", "state", "connected", "needs_attention")
    assert (state.what, state.new) == ("Connection", "Needs attention")

"""What the engine's records mean in the words of the help article, for staff who are not engineers.

The store keeps codes (``sequence_sync_disabled``, ``on_add``), request paths
(``POST /people/{id}/linkedin_urls``), worker names and audit field names, which engineers need
and the dashboard keeps one click away ("Technical details"). This module turns each of them
into a phrase: engine passes and their counts, Clockwork requests and answers, audit entries,
and counts of things ("1 activity", "3 activities").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sync_engine.models import ConnectionState, SyncMode

# --- counts -----------------------------------------------------------------------------------

_PLURALS = {
    "activity": "activities",
    "person": "people",
    "Clockwork person": "Clockwork people",
    "request to Clockwork": "requests to Clockwork",
}


def plural(count: int, word: str) -> str:
    """``count`` and ``word``, singular for one: "1 contact", "2,500 contacts", "1 activity"."""
    if count == 1:
        return f"1 {word}"
    many = _PLURALS.get(word) or (word[:-1] + "ies" if word.endswith("y") else word + "s")
    return f"{count:,} {many}"


# --- engine passes (the Sync log's run history) -------------------------------------------

TRIGGER_WORDS: dict[str, str] = {
    "scheduler": "Scheduled pass",
    "manual": "Run by hand",
    "until_idle": "Command line (sync until idle)",
    "job_error": "Scheduler problem",
    "job_missed": "Scheduled pass missed",
}

# Outcomes a pass counts (engine.outcomes.Outcome and the pass's own tallies), as phrases that
# follow a number: "3 synced", "1 put back to respect Clockwork's pace".
RUN_COUNT_WORDS: dict[str, str] = {
    "claimed": "taken from the queue",
    "synced": "synced",
    "delivered": "with notes delivered",
    "retrying": "to be retried",
    "failed": "failed",
    "needs_review": "waiting for a review",
    "deferred": "put back to respect Clockwork's pace",
    "paused": "paused (credentials rejected)",
    "lost_lease": "handed over to another worker",
    "error": "stopped by an unexpected error",
    "credentials_unreadable": "accounts whose credentials cannot be read",
    "timed_out": "time limit reached",
    "remaining": "left in the queue",
}
_COUNT_ORDER = list(RUN_COUNT_WORDS)


def trigger_words(trigger: str) -> str:
    """What started an engine pass, in words."""
    return TRIGGER_WORDS.get(trigger, trigger.replace("_", " ").capitalize())


def run_counts_words(counts: Mapping[str, int]) -> str:
    """A pass's counts as a phrase: "3 taken from the queue, 3 synced"; "Nothing to do" when it
    took nothing."""
    known = sorted(
        (name for name, value in counts.items() if value),
        key=lambda name: (_COUNT_ORDER.index(name) if name in _COUNT_ORDER else 99, name),
    )
    if not known:
        return "Nothing to do"
    return ", ".join(
        f"{counts[name]:,} {RUN_COUNT_WORDS.get(name, name.replace('_', ' '))}" for name in known
    )


# --- Clockwork requests (the Sync log's API calls) ----------------------------------------

REQUEST_WORDS: dict[tuple[str, str], str] = {
    ("GET", "/people"): "List people",
    ("GET", "/people_search"): "Look for a person by email",
    ("GET", "/people/{id}"): "Read a person",
    ("POST", "/people"): "Create a person",
    ("POST", "/people/{id}/email_addresses"): "Add an email address to a person",
    ("POST", "/people/{id}/positions"): "Add a position to a person",
    ("POST", "/people/{id}/linkedin_urls"): "Add a LinkedIn URL to a person",
    ("GET", "/projects"): "List projects",
    ("GET", "/projects/{id}/candidacies"): "List a project's candidates",
    ("POST", "/projects/{id}/candidacies"): "Add a person to a project",
    ("GET", "/people/{id}/notes"): "List a person's notes",
    ("POST", "/people/{id}/notes"): "Write a note on a person",
}


def request_words(method: str, path: str) -> str:
    """A Clockwork request in words: "Add a LinkedIn URL to a person" (else the raw request)."""
    return REQUEST_WORDS.get((method.upper(), path), f"{method} {path}")


def answer_words(status: int | None) -> str:
    """How Clockwork answered, in words: "OK", "Refused the data", "Asked us to slow down"."""
    if status is None:
        return "No answer (network)"
    if status < 400:
        return "OK"
    if status in (401, 403):
        return "Credentials rejected"
    if status == 404:
        return "Not found"
    if status == 422 or status == 400:
        return "Refused the data"
    if status == 429:
        return "Asked us to slow down"
    if status >= 500:
        return "Clockwork error"
    return "Refused"


# --- the audit log --------------------------------------------------------------------------

ENTITY_WORDS = {
    "account": "Account",
    "settings": "Sync settings",
    "sequence": "Sequence",
    "connection": "Connection",
    "contact": "Contact",
    "enrollment": "Contact",
}

FIELD_WORDS: dict[tuple[str, str], str] = {
    ("account", "name"): "Created",
    ("account", "sync_paused"): "Syncing paused",
    ("account", "activity_backfill"): "Activity backfill",
    ("settings", "sync_mode"): "When contacts sync",
    ("settings", "deduplication"): "Deduplication",
    ("settings", "default_project_id"): "Default project",
    ("settings", "activity_tracking"): "Activity tracking",
    ("settings", "link_by_linkedin"): "Link by LinkedIn URL",
    ("settings", "max_rps"): "Request rate limit",
    ("sequence", "created"): "Created",
    ("sequence", "name"): "Name",
    ("sequence", "disable_sync"): "Disable Sync",
    ("sequence", "project_id"): "Project",
    ("sequence", "resync_project"): "Re-sync to project",
    ("connection", "state"): "State",
    ("connection", "firm"): "Firm",
    ("connection", "api_key"): "API key",
    ("connection", "credentials"): "Credentials",
    ("contact", "email"): "Email",
    ("contact", "first_name"): "First name",
    ("contact", "last_name"): "Last name",
    ("contact", "title"): "Title",
    ("contact", "company"): "Company",
    ("contact", "linkedin_url"): "LinkedIn URL",
    ("enrollment", "status"): "Status",
    ("enrollment", "review_choice"): "Clockwork person chosen",
}

SYNC_MODE_WORDS = {
    SyncMode.ON_ADD.value: "When added to a sequence",
    SyncMode.ON_REPLY.value: "Only when they reply",
    SyncMode.OFF.value: "Off: never",
}
CONNECTION_WORDS = {
    ConnectionState.CONNECTED.value: "Connected",
    ConnectionState.NEEDS_ATTENTION.value: "Needs attention",
    ConnectionState.DISCONNECTED.value: "Disconnected",
    "never_connected": "Never connected",
}
ACTOR_WORDS = {
    "engine": "Sync engine",
    "system": "System",
    "demo": "Demo set-up",
}


def actor_words(actor: str) -> str:
    """Who made a change: the person's name, "root (command line)", "Sync engine"."""
    if actor.startswith("cli:"):
        return f"{actor.removeprefix('cli:') or 'someone'} (command line)"
    return ACTOR_WORDS.get(actor, actor)


@dataclass(frozen=True)
class AuditWords:
    """One audit entry as staff read it."""

    what: str
    field: str
    old: str
    new: str


def audit_words(
    *,
    entity: str,
    field: str,
    old: str | None,
    new: str | None,
    subject: str | None,
    projects: Mapping[str, str],
    status_words: Mapping[str, str],
    reason_words: Mapping[str, str],
) -> AuditWords:
    """An audit entry in words. ``subject`` names what changed (the sequence's name, the
    contact's email); ``projects`` maps project ids to names; ``status_words`` and
    ``reason_words`` put statuses and reason codes in words."""
    what = ENTITY_WORDS.get(entity, entity.capitalize())
    if subject:
        what = f"{what} {subject}"

    def value(text: str | None) -> str:
        if not text:
            return ""
        if field in ("default_project_id", "project_id"):
            return projects.get(text, "a project Clockwork does not list (see Technical details)")
        if field == "sync_mode":
            return SYNC_MODE_WORDS.get(text, text)
        if entity == "connection" and field == "state":
            return CONNECTION_WORDS.get(text, text)
        if text in ("on", "off"):
            return text.capitalize()
        if entity == "enrollment" and field == "status":
            return _status_value(text, status_words, reason_words)
        if field == "resync_project" and (resync := _RESYNC.fullmatch(text)):
            added, project_id, there = resync.groups()
            target = projects.get(project_id, "a project Clockwork does not list")
            return f"{plural(int(added), 'contact')} added to {target}, {there} already there"
        if field == "activity_backfill" and (queued := _QUEUED.fullmatch(text)):
            return f"{plural(int(queued[1]), 'activity')} queued"
        if field == "review_choice":  # the person's Clockwork id is in Technical details
            return "Link the chosen person" if text.startswith("link person") else "New person"
        if entity == "connection" and field == "credentials":
            return {"set": "Saved", "updated": "Replaced"}.get(text, text)
        return text

    return AuditWords(
        what=what,
        field=FIELD_WORDS.get((entity, field), field.replace("_", " ").capitalize()),
        old=value(old),
        new=value(new),
    )


_QUEUED = re.compile(r"(\d+) activities queued")
_RESYNC = re.compile(r"(\d+) added to (.+), (\d+) already there")  # project_resync's entry


def _status_value(
    text: str, status_words: Mapping[str, str], reason_words: Mapping[str, str]
) -> str:
    """ "failed (validation_error)" → "Failed: Clockwork refused the contact's data"."""
    status, _, rest = text.partition(" (")
    detail = rest.removesuffix(")")
    words = status_words.get(status, status)
    if not detail or detail == "None":
        return words
    detail = reason_words.get(detail, detail)
    return f"{words}: {detail}"

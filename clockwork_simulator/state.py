"""In-memory store of the Clockwork simulator: firms, their users' keys, people, projects,
candidacies, notes, per-route request counts and what was answered (statuses, faults, times).

Everything is kept as JSON-ready camelCase dicts behind one lock, so the HTTP layer, the admin
surface and tests can share one `SimulatorState` from any thread. Domain rules of the contract
that need the data (blank names, invalid emails, unknown ids, a person already in a project)
are enforced here; the request shape is checked by the handler in `core`.

Past 500 lines on purpose: every read and write of the fake's data holds the same lock, and a
split across modules would spread that lock's discipline over several files.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

__all__ = [
    "FirmCredentials",
    "RecordInvalid",
    "SimulatorState",
    "UnknownFirm",
    "UnknownRecord",
]

JSON = dict[str, Any]

SEED_PROJECT_NAMES = (
    "VP Engineering — Northwind Traders",
    "Chief Financial Officer — Contoso Health",
    "Head of Product — Fabrikam Labs",
    "General Counsel — Tailspin Airlines",
)
STATUS_NAMES = (
    "Research",
    "Contacted",
    "Qualified",
    "Client Interview",
    "Offer",
    "Placed",
    "Not Interested",
)
DEFAULT_STATUS = "Research"
_SAVE_FORMAT_VERSION = 1

_FIRM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_LINKEDIN_URL = re.compile(r"^https?://([a-z0-9-]+\.)*linkedin\.com/\S+$", re.IGNORECASE)


class UnknownFirm(LookupError):
    """No firm of that name is registered in the simulator."""


class UnknownRecord(LookupError):
    """A person or project id that does not exist in the firm (an HTTP 404)."""


class RecordInvalid(ValueError):
    """A write the contract rejects (an HTTP 422), reported against one request field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name} {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class FirmCredentials:
    """A firm's name and the keys a client needs to call it (one user plus the service key)."""

    name: str
    api_key: str
    api_secret: str
    firm_service_key: str


@dataclass
class _Answers:
    """What a firm's requests were answered: statuses, faults carried out, first and last times."""

    statuses: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    ok: int = 0
    first_request_at: datetime | None = None
    last_success_at: datetime | None = None

    def to_json(self) -> JSON:
        def stamp(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment is not None else None

        return {
            "total": self.statuses.total(),
            "statuses": {str(status): n for status, n in sorted(self.statuses.items())},
            "faults": dict(self.faults),
            "ok": self.ok,
            "first_request_at": stamp(self.first_request_at),
            "last_success_at": stamp(self.last_success_at),
        }


@dataclass
class _Firm:
    name: str
    firm_service_key: str
    users: dict[str, str]  # api key -> api secret
    seed_projects: bool
    people: dict[str, JSON] = field(default_factory=dict)
    search_names: dict[str, str] = field(default_factory=dict)  # person id -> lower-cased name
    names_with_at: set[str] = field(default_factory=set)  # ids whose name contains "@"
    creation_rank: dict[str, int] = field(default_factory=dict)  # person id -> 0, 1, 2, ...
    email_index: dict[str, list[str]] = field(default_factory=dict)  # lower address -> ids
    projects: dict[str, JSON] = field(default_factory=dict)
    candidacies: dict[str, list[JSON]] = field(default_factory=dict)  # project id -> list
    candidates: set[tuple[str, str]] = field(default_factory=set)  # (project id, person id)
    notes: dict[str, list[JSON]] = field(default_factory=dict)  # person id -> list
    statuses: list[JSON] = field(default_factory=list)
    merged_into: dict[str, str] = field(default_factory=dict)  # merged person id -> survivor
    route_counts: Counter[str] = field(default_factory=Counter)
    answers: _Answers = field(default_factory=_Answers)

    def index_person(self, person: JSON) -> None:
        """Add a new person to the search indexes."""
        name = person["name"].lower()
        self.search_names[person["id"]] = name
        self.creation_rank[person["id"]] = len(self.creation_rank)
        if "@" in name:
            self.names_with_at.add(person["id"])

    def index_email(self, person_id: str, address: str) -> None:
        """Make a person findable by one of its email addresses."""
        self.email_index.setdefault(address.lower(), []).append(person_id)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


class SimulatorState:
    """Thread-safe store behind the simulator; one instance may serve many firms.

    ``clock`` returns the current time (UTC) and is injectable so tests get stable timestamps.
    """

    def __init__(self, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._firms: dict[str, _Firm] = {}
        self._revoked: set[str] = set()

    # -- admin -------------------------------------------------------------------------------

    def add_firm(
        self,
        name: str,
        *,
        api_key: str,
        api_secret: str,
        firm_service_key: str,
        seed_projects: bool = True,
    ) -> None:
        """Register a firm with one user's key pair and its service key.

        With ``seed_projects`` the firm starts with a few realistic active search projects.
        Raises ``ValueError`` for a malformed or taken firm name or an API key already in use.
        """
        if not _FIRM_NAME.match(name):
            raise ValueError(f"firm name must be a subdomain label, got {name!r}")
        if not (api_key and api_secret and firm_service_key):
            raise ValueError("api_key, api_secret and firm_service_key must be non-empty")
        with self._lock:
            if name in self._firms:
                raise ValueError(f"firm {name!r} already exists")
            if any(api_key in firm.users for firm in self._firms.values()):
                raise ValueError("api_key is already used by another firm")
            self._firms[name] = self._new_firm(
                name, {api_key: api_secret}, firm_service_key, seed_projects
            )

    def add_user(self, firm: str, *, api_key: str, api_secret: str) -> None:
        """Give a firm another user's key pair (e.g. to revoke one user and keep the other)."""
        with self._lock:
            target = self._firm(firm)
            if any(api_key in f.users for f in self._firms.values()):
                raise ValueError("api_key is already in use")
            target.users[api_key] = api_secret

    def firms(self) -> list[str]:
        """Names of the registered firms, in registration order."""
        with self._lock:
            return list(self._firms)

    def seed_person(
        self,
        firm: str,
        *,
        first_name: str,
        last_name: str,
        emails: Iterable[str] = (),
        title: str | None = None,
        company: str | None = None,
        linkedin_urls: Iterable[str] = (),
    ) -> JSON:
        """Create a person as if a recruiter had entered it in Clockwork; returns its payload."""
        emails, linkedin_urls = list(emails), list(linkedin_urls)
        for address in emails:
            _check_email(address)
        for url in linkedin_urls:
            _check_linkedin_url(url)
        with self._lock:
            target = self._firm(firm)
            name = f"{first_name} {last_name}".strip()
            person = self._insert_person(target, name, first_name or None, last_name or None)
            for address in emails:
                self._insert_email(target, person, address, "work")
            if title or company:
                self._insert_position(person, title, company)
            for url in linkedin_urls:
                self._insert_linkedin_url(person, url)
            return _person_view(person)

    def add_project(self, firm: str, name: str, *, status: str = "Active") -> JSON:
        """Add a search project to the firm; returns its payload."""
        if not name.strip():
            raise ValueError("project name must not be blank")
        with self._lock:
            target = self._firm(firm)
            return dict(self._insert_project(target, name.strip(), status))

    def revoke_key(self, key: str) -> None:
        """Reject a user's API key, or a firm service key, from now on (401)."""
        with self._lock:
            self._require_known_key(key)
            self._revoked.add(key)

    def restore_key(self, key: str) -> None:
        """Accept a key revoked by `revoke_key` again."""
        with self._lock:
            self._require_known_key(key)
            self._revoked.discard(key)

    def reset(self, *, keep_firms: bool = False) -> None:
        """Forget everything; with ``keep_firms`` firms and credentials stay, data starts over."""
        with self._lock:
            self._revoked.clear()
            if not keep_firms:
                self._firms.clear()
                return
            for name, old in list(self._firms.items()):
                self._firms[name] = self._new_firm(
                    name, dict(old.users), old.firm_service_key, old.seed_projects
                )

    def snapshot(self, firm: str) -> JSON:
        """Everything the firm holds, as plain dicts in API shape (secrets left out)."""
        with self._lock:
            target = self._firm(firm)
            return {
                "firm": target.name,
                "users": [{"apiKey": key, "revoked": key in self._revoked} for key in target.users],
                "firmServiceKeyRevoked": target.firm_service_key in self._revoked,
                "people": [_person_view(p) for p in target.people.values()],
                "projects": [dict(p) for p in target.projects.values()],
                "candidacies": [
                    dict(c) for project in target.candidacies.values() for c in project
                ],
                "notes": [dict(n) for notes in target.notes.values() for n in notes],
                "statuses": [dict(s) for s in target.statuses],
            }

    def request_counts(self, firm: str) -> JSON:
        """Requests received for the firm: ``{"total": n, "routes": {"GET /people": n, ...}}``.

        Every request addressed to the firm counts, including ones answered 401, 429 or 5xx.
        """
        with self._lock:
            counts = self._firm(firm).route_counts
            return {"total": counts.total(), "routes": dict(counts)}

    def answer_counts(self, firm: str) -> JSON:
        """What the firm's contract requests were answered, for benchmarks and tests::

            {"total": n, "statuses": {"200": n, "429": n, ...}, "faults": {"drip": n, ...},
             "ok": n, "first_request_at": ISO 8601 | null, "last_success_at": ISO 8601 | null}

        ``statuses`` counts every answer, ``ok`` and ``last_success_at`` only the 2xx sent whole
        and on time (no drop, slow or drip fault); times come from the state's clock.
        """
        with self._lock:
            return self._firm(firm).answers.to_json()

    def now(self) -> datetime:
        """The simulator's clock (UTC): what ``createdAt`` stamps and the ``Date`` header read."""
        return self._clock()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write every firm to a JSON file atomically (temp file + rename)."""
        target = Path(path)
        with self._lock:
            document = {
                "version": _SAVE_FORMAT_VERSION,
                "revokedKeys": sorted(self._revoked),
                "firms": [_firm_to_json(firm) for firm in self._firms.values()],
            }
        payload = json.dumps(document, ensure_ascii=False, indent=1)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                tmp.write(payload)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def load(self, path: str | os.PathLike[str]) -> None:
        """Replace the whole state with what `save` wrote to ``path``."""
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        if document.get("version") != _SAVE_FORMAT_VERSION:
            raise ValueError(f"unsupported simulator save format: {document.get('version')!r}")
        firms = [_firm_from_json(data) for data in document["firms"]]
        with self._lock:
            self._firms = {firm.name: firm for firm in firms}
            self._revoked = set(document["revokedKeys"])

    # -- drift: what staff do in Clockwork behind the sync's back (admin) ----------------------

    def delete_person(self, firm: str, person_id: str) -> None:
        """Delete a person with their candidacies and notes; raises `UnknownRecord`."""
        with self._lock:
            target = self._firm(firm)
            self._person(target, person_id)
            self._drop_person(target, person_id)

    def merge_person(self, firm: str, person_id: str, *, into: str) -> JSON:
        """Merge ``person_id`` into ``into``: its emails, candidacies and notes move to the
        survivor, and the merged id answers with the survivor from then on."""
        with self._lock:
            target = self._firm(firm)
            loser, survivor = self._person(target, person_id), self._person(target, into)
            if person_id == into:
                raise RecordInvalid("into", "is the person being merged")
            known = {e["address"].lower() for e in survivor["emails"]}
            for email in loser["emails"]:
                if email["address"].lower() not in known:
                    self._insert_email(target, survivor, email["address"], email["location"])
            for project_id, candidacies in target.candidacies.items():
                if (project_id, person_id) not in target.candidates:
                    continue
                if (project_id, into) in target.candidates:
                    continue
                for candidacy in candidacies:
                    if candidacy["personId"] == person_id:
                        candidacy["personId"] = into
                target.candidates.add((project_id, into))
            for note in target.notes.pop(person_id, []):
                note["personId"] = into
                target.notes.setdefault(into, []).append(note)
            self._drop_person(target, person_id)
            target.merged_into[person_id] = into
            return _person_view(survivor)

    def remove_candidacy(self, firm: str, project_id: str, person_id: str) -> None:
        """Take a person out of a project; raises `UnknownRecord` if they are not in it."""
        with self._lock:
            target = self._firm(firm)
            self._project(target, project_id)
            if (project_id, person_id) not in target.candidates:
                raise UnknownRecord(f"person {person_id} is not a candidate in {project_id}")
            target.candidates.discard((project_id, person_id))
            target.candidacies[project_id] = [
                c for c in target.candidacies[project_id] if c["personId"] != person_id
            ]

    def delete_note(self, firm: str, note_id: str) -> None:
        """Delete one note; raises `UnknownRecord`."""
        with self._lock:
            target = self._firm(firm)
            for person_id, notes in target.notes.items():
                kept = [n for n in notes if n["id"] != note_id]
                if len(kept) != len(notes):
                    target.notes[person_id] = kept
                    return
            raise UnknownRecord(f"note not found: {note_id}")

    @staticmethod
    def _drop_person(target: _Firm, person_id: str) -> None:
        person = target.people.pop(person_id)
        target.search_names.pop(person_id, None)
        target.names_with_at.discard(person_id)
        for email in person["emails"]:
            ids = target.email_index.get(email["address"].lower(), [])
            if person_id in ids:
                ids.remove(person_id)
        for project_id in list(target.candidacies):
            if (project_id, person_id) in target.candidates:
                target.candidates.discard((project_id, person_id))
                target.candidacies[project_id] = [
                    c for c in target.candidacies[project_id] if c["personId"] != person_id
                ]
        target.notes.pop(person_id, None)

    # -- contract operations (called by the request handler) ----------------------------------

    def has_firm(self, firm: str) -> bool:
        """Whether a firm of that name is registered."""
        with self._lock:
            return firm in self._firms

    def count_request(self, firm: str, route: str) -> None:
        """Record one request to ``route`` (e.g. ``"GET /people/{id}"``) for the firm."""
        with self._lock:
            target = self._firms.get(firm)
            if target is not None:
                target.route_counts[route] += 1

    def record_answer(self, firm: str, status: int, fault: str | None) -> None:
        """Record the answer to one request for the firm (``fault``: "drop", "slow", "drip")."""
        now = self._clock()
        with self._lock:
            target = self._firms.get(firm)
            if target is None:
                return
            answers = target.answers
            answers.statuses[status] += 1
            if answers.first_request_at is None:
                answers.first_request_at = now
            if fault is not None:
                answers.faults[fault] += 1
            elif 200 <= status < 300:
                answers.ok += 1
                answers.last_success_at = now

    def authenticate(
        self, firm: str, *, firm_service_key: str, api_key: str, api_secret: str
    ) -> str | None:
        """Check a request's credentials; returns None if accepted, else why they are not."""
        with self._lock:
            target = self._firm(firm)
            if firm_service_key != target.firm_service_key:
                return "invalid firm service key (X-API-Key)"
            if firm_service_key in self._revoked:
                return "firm service key has been revoked"
            secret = target.users.get(api_key)
            if secret is None or secret != api_secret:
                return "invalid API key or secret"
            if api_key in self._revoked:
                return "API key has been revoked"
            return None

    def list_people(self, firm: str, *, limit: int, offset: int) -> list[JSON]:
        """People in creation order, one page."""
        with self._lock:
            people = self._firm(firm).people.values()
            return [_person_view(p) for p in islice(people, offset, offset + limit)]

    def search_people(self, firm: str, q: str, *, limit: int, page: int) -> tuple[list[JSON], int]:
        """People whose name contains ``q`` or who have an email equal to ``q`` (both
        case-insensitive), oldest first; returns one page and the total number of matches."""
        needle = q.lower()
        with self._lock:
            target = self._firm(firm)
            if "@" in needle:
                # A name containing an email-shaped query must contain "@" (few or none do),
                # so the lookup by email stays O(hits) instead of scanning every name.
                ids = {i for i in target.names_with_at if needle in target.search_names[i]}
                ids.update(target.email_index.get(needle, ()))
                hits = sorted(ids, key=target.creation_rank.__getitem__)
            else:  # every stored address contains "@", so only names can match
                hits = [i for i, name in target.search_names.items() if needle in name]
            start = (page - 1) * limit
            page_ids = hits[start : start + limit]
            return [_person_view(target.people[i]) for i in page_ids], len(hits)

    def get_person(self, firm: str, person_id: str) -> JSON:
        """One person's payload; raises `UnknownRecord`. A person merged into another answers
        with the survivor (its own id), the way Clockwork says where a merged record went."""
        with self._lock:
            target = self._firm(firm)
            return _person_view(self._person(target, _survivor(target, person_id)))

    def create_person(
        self, firm: str, *, name: str | None, first_name: str | None, last_name: str | None
    ) -> JSON:
        """Create a person (never deduplicated); ``name`` defaults to first + last name."""
        full_name = (name or "").strip() or f"{first_name or ''} {last_name or ''}".strip()
        if not full_name:
            raise RecordInvalid("name", "can't be blank")
        if first_name is None and last_name is None:
            first_name, _, last_name = full_name.partition(" ")
        with self._lock:
            person = self._insert_person(
                self._firm(firm), full_name, first_name or None, last_name or None
            )
            return _person_view(person)

    def add_email(self, firm: str, person_id: str, *, address: str, location: str) -> JSON:
        """Attach an email address; the first one becomes the preferred address."""
        with self._lock:
            target = self._firm(firm)
            person = self._person(target, person_id)
            email = self._insert_email(target, person, address, location)
            return {"personId": person_id, **email}

    def add_position(
        self, firm: str, person_id: str, *, title: str | None, company_name: str | None
    ) -> JSON:
        """Attach a current position (title and/or company)."""
        with self._lock:
            person = self._person(self._firm(firm), person_id)
            return {"personId": person_id, **self._insert_position(person, title, company_name)}

    def add_linkedin_url(self, firm: str, person_id: str, *, url: str) -> JSON:
        """Attach a LinkedIn URL; the first one becomes the preferred URL."""
        with self._lock:
            person = self._person(self._firm(firm), person_id)
            return {"personId": person_id, **self._insert_linkedin_url(person, url)}

    def list_projects(self, firm: str, *, limit: int, offset: int) -> list[JSON]:
        """Projects in creation order, one page."""
        with self._lock:
            projects = self._firm(firm).projects.values()
            return [dict(p) for p in islice(projects, offset, offset + limit)]

    def list_candidacies(
        self, firm: str, project_id: str, *, limit: int, offset: int, include_person: bool
    ) -> list[JSON]:
        """Candidacies of a project, one page, each with its ``person`` if asked."""
        with self._lock:
            target = self._firm(firm)
            self._project(target, project_id)
            page = islice(target.candidacies[project_id], offset, offset + limit)
            if not include_person:
                return [dict(c) for c in page]
            return [{**c, "person": _person_view(target.people[c["personId"]])} for c in page]

    def add_candidacy(self, firm: str, project_id: str, *, person_id: str) -> JSON:
        """Put a person into a project at the default status ("Research").

        Raises `UnknownRecord` for an unknown project and `RecordInvalid` for an unknown person
        or one already in the project.
        """
        with self._lock:
            target = self._firm(firm)
            self._project(target, project_id)
            if person_id not in target.people:
                raise RecordInvalid("person_id", "does not match any person")
            if (project_id, person_id) in target.candidates:
                raise RecordInvalid("person_id", "is already a candidate in this project")
            candidacy = {
                "id": _new_id(),
                "personId": person_id,
                "projectId": project_id,
                "statusId": _status_id(target, DEFAULT_STATUS),
                "createdAt": self._now(),
            }
            target.candidacies[project_id].append(candidacy)
            target.candidates.add((project_id, person_id))
            return dict(candidacy)

    def list_notes(self, firm: str, person_id: str, *, limit: int, offset: int) -> list[JSON]:
        """Notes of a person in creation order, one page."""
        with self._lock:
            target = self._firm(firm)
            self._person(target, person_id)
            notes = target.notes.get(person_id, [])
            return [dict(n) for n in notes[offset : offset + limit]]

    def create_note(
        self,
        firm: str,
        person_id: str,
        *,
        content: str,
        content_type: str,
        category: str | None,
    ) -> JSON:
        """Write a note on a person."""
        if not content.strip():
            raise RecordInvalid("content", "can't be blank")
        with self._lock:
            target = self._firm(firm)
            self._person(target, person_id)
            note = {
                "id": _new_id(),
                "personId": person_id,
                "content": content,
                "contentType": content_type,
                "category": category,
                "createdAt": self._now(),
            }
            target.notes.setdefault(person_id, []).append(note)
            return dict(note)

    def person_record(self, firm: str, person_id: str) -> JSON:
        """One person as the simulator's person page shows it: the payload, plus ``projects``
        (each candidacy's project name and status name, in the order joined) and ``notes``.

        Raises `UnknownFirm` / `UnknownRecord`.
        """
        with self._lock:
            target = self._firm(firm)
            person = _person_view(self._person(target, person_id))
            statuses = {status["id"]: status["name"] for status in target.statuses}
            projects = [
                {
                    "name": target.projects[project_id]["name"],
                    "status": statuses.get(candidacy["statusId"], ""),
                    "createdAt": candidacy["createdAt"],
                }
                for project_id, candidacies in target.candidacies.items()
                if (project_id, person_id) in target.candidates
                for candidacy in candidacies
                if candidacy["personId"] == person_id
            ]
            notes = [dict(n) for n in target.notes.get(person_id, [])]
        return {
            **person,
            "projects": sorted(projects, key=lambda p: p["createdAt"]),
            "notes": notes,
        }

    def list_statuses(self, firm: str) -> list[JSON]:
        """The firm's candidacy statuses."""
        with self._lock:
            return [dict(s) for s in self._firm(firm).statuses]

    # -- internals (callers hold the lock) ----------------------------------------------------

    def _now(self) -> str:
        return self._clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    def _firm(self, name: str) -> _Firm:
        try:
            return self._firms[name]
        except KeyError:
            raise UnknownFirm(f"unknown firm: {name}") from None

    @staticmethod
    def _person(firm: _Firm, person_id: str) -> JSON:
        try:
            return firm.people[person_id]
        except KeyError:
            raise UnknownRecord(f"person not found: {person_id}") from None

    @staticmethod
    def _project(firm: _Firm, project_id: str) -> JSON:
        try:
            return firm.projects[project_id]
        except KeyError:
            raise UnknownRecord(f"project not found: {project_id}") from None

    def _require_known_key(self, key: str) -> None:
        for firm in self._firms.values():
            if key in firm.users or key == firm.firm_service_key:
                return
        raise KeyError(f"unknown key: {key}")

    def _new_firm(
        self, name: str, users: dict[str, str], firm_service_key: str, seed_projects: bool
    ) -> _Firm:
        firm = _Firm(name, firm_service_key, users, seed_projects)
        firm.statuses = [{"id": _new_id(), "name": status} for status in STATUS_NAMES]
        if seed_projects:
            for project_name in SEED_PROJECT_NAMES:
                self._insert_project(firm, project_name, "Active")
        return firm

    def _insert_project(self, firm: _Firm, name: str, status: str) -> JSON:
        project = {"id": _new_id(), "name": name, "status": status, "createdAt": self._now()}
        firm.projects[project["id"]] = project
        firm.candidacies[project["id"]] = []
        return project

    def _insert_person(
        self, firm: _Firm, name: str, first_name: str | None, last_name: str | None
    ) -> JSON:
        now = self._now()
        person: JSON = {
            "id": _new_id(),
            "name": name,
            "firstName": first_name,
            "lastName": last_name,
            "createdAt": now,
            "updatedAt": now,
            "doNotContact": False,
            "preferredEmailAddress": None,
            "preferredLinkedinUrl": None,
            "emails": [],
            "positions": [],
            "linkedinUrls": [],
        }
        firm.people[person["id"]] = person
        firm.index_person(person)
        return person

    def _insert_email(self, firm: _Firm, person: JSON, address: str, location: str) -> JSON:
        address = _check_email(address)
        now = self._now()
        email = {
            "id": _new_id(),
            "address": address,
            "location": location,
            "createdAt": now,
            "updatedAt": now,
        }
        person["emails"].append(email)
        person["preferredEmailAddress"] = person["preferredEmailAddress"] or address
        person["updatedAt"] = now
        firm.index_email(person["id"], address)
        return dict(email)

    def _insert_position(self, person: JSON, title: str | None, company_name: str | None) -> JSON:
        title = (title or "").strip() or None
        company_name = (company_name or "").strip() or None
        if title is None and company_name is None:
            raise RecordInvalid("title", "title or companyName is required")
        position = {
            "id": _new_id(),
            "title": title,
            "companyName": company_name,
            "type": "current",
        }
        person["positions"].append(position)
        person["updatedAt"] = self._now()
        return dict(position)

    def _insert_linkedin_url(self, person: JSON, url: str) -> JSON:
        url = _check_linkedin_url(url)
        link = {"id": _new_id(), "url": url}
        person["linkedinUrls"].append(link)
        person["preferredLinkedinUrl"] = person["preferredLinkedinUrl"] or url
        person["updatedAt"] = self._now()
        return dict(link)


def _check_email(address: str) -> str:
    address = address.strip()
    if not _EMAIL.match(address):
        raise RecordInvalid("address", "is not a valid email address")
    return address


def _check_linkedin_url(url: str) -> str:
    url = url.strip()
    if not _LINKEDIN_URL.match(url):
        raise RecordInvalid("url", "is not a LinkedIn URL")
    return url


def _status_id(firm: _Firm, name: str) -> str:
    return next(status["id"] for status in firm.statuses if status["name"] == name)


def _person_view(person: Mapping[str, Any]) -> JSON:
    """A person in the contract's shape: empty collections are null, not []."""
    emails = [
        {
            "id": e["id"],
            "address": e["address"],
            "createdAt": e["createdAt"],
            "updatedAt": e["updatedAt"],
        }
        for e in person["emails"]
    ]
    return {
        "id": person["id"],
        "name": person["name"],
        "firstName": person["firstName"],
        "lastName": person["lastName"],
        "createdAt": person["createdAt"],
        "updatedAt": person["updatedAt"],
        "doNotContact": person["doNotContact"],
        "preferredEmailAddress": person["preferredEmailAddress"],
        "preferredLinkedinUrl": person["preferredLinkedinUrl"],
        "emails": emails or None,
        "positions": [dict(p) for p in person["positions"]] or None,
        "linkedinUrls": [dict(u) for u in person["linkedinUrls"]] or None,
        "notes": None,
        "tags": None,
        "phoneNumbers": None,
    }


def _firm_to_json(firm: _Firm) -> JSON:
    return {
        "name": firm.name,
        "firmServiceKey": firm.firm_service_key,
        "users": [{"apiKey": key, "apiSecret": secret} for key, secret in firm.users.items()],
        "seedProjects": firm.seed_projects,
        "people": list(firm.people.values()),
        "projects": list(firm.projects.values()),
        "candidacies": [c for project in firm.candidacies.values() for c in project],
        "notes": [n for notes in firm.notes.values() for n in notes],
        "statuses": firm.statuses,
        "mergedInto": firm.merged_into,
    }


def _firm_from_json(data: Mapping[str, Any]) -> _Firm:
    firm = _Firm(
        name=data["name"],
        firm_service_key=data["firmServiceKey"],
        users={user["apiKey"]: user["apiSecret"] for user in data["users"]},
        seed_projects=data["seedProjects"],
        statuses=list(data["statuses"]),
    )
    for person in data["people"]:
        firm.people[person["id"]] = person
        firm.index_person(person)
        for email in person["emails"]:
            firm.index_email(person["id"], email["address"])
    for project in data["projects"]:
        firm.projects[project["id"]] = project
        firm.candidacies[project["id"]] = []
    for candidacy in data["candidacies"]:
        firm.candidacies[candidacy["projectId"]].append(candidacy)
        firm.candidates.add((candidacy["projectId"], candidacy["personId"]))
    for note in data["notes"]:
        firm.notes.setdefault(note["personId"], []).append(note)
    firm.merged_into = dict(data.get("mergedInto", {}))
    return firm


def _survivor(firm: _Firm, person_id: str) -> str:
    """The person a (possibly merged, possibly several times) id stands for now."""
    seen: set[str] = set()
    while person_id in firm.merged_into and person_id not in seen:
        seen.add(person_id)
        person_id = firm.merged_into[person_id]
    return person_id

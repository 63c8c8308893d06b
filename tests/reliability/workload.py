"""A mixed sync workload for the reliability suites, and the exactly-once check run after it.

The workload mixes what can go wrong differently: contacts new to Clockwork and people already
there (some already candidates in the project), a project created for the test and seeded ones,
one contact enrolled in two sequences, and activities both on enrollments synced before the
faults start and on ones still queued. :func:`check_exactly_once` then compares the store with
the simulator's snapshot: every enrollment synced or failed with a reason, every activity
settled, one person per email, one candidacy per (person, project), one note per activity key.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.engine.passes import Engine
from sync_engine.engine.pipeline import NOTE_KEY_PREFIX
from sync_engine.models import Activity, ActivityKind, ApiCall, Contact, Enrollment
from sync_engine.runtime import Runtime
from sync_engine.services import events
from tests.factories import SIM_FIRM, enroll, make_connected_account, make_sequence

_MARKER = re.compile(re.escape(NOTE_KEY_PREFIX) + r"([0-9a-f]+)")


@dataclass
class Workload:
    """What was set up: the account, the emails by origin, and the candidacies already there."""

    account_id: int
    new_emails: set[str] = field(default_factory=set)
    existing: dict[str, str] = field(default_factory=dict)  # email -> seeded person id
    preexisting_candidacies: set[tuple[str, str]] = field(default_factory=set)
    enrollment_ids: list[int] = field(default_factory=list)

    @property
    def emails(self) -> set[str]:
        """Every contact email of the workload."""
        return self.new_emails | set(self.existing)


def record(rt: Runtime, enrollment_id: int, kind: ActivityKind, subject: str = "Intro") -> int:
    """Record an email event now; returns the activity id."""
    with rt.db.write() as session:
        activity = events.record_event(
            session=session, enrollment_id=enrollment_id, kind=kind, at=None,
            subject=subject,
        )  # fmt: skip
    assert activity.id is not None
    return activity.id


def build_workload(
    rt: Runtime,
    server: SimulatorServer,
    sim: SimulatorState,
    engine: Engine,
    *,
    new: int = 16,
    existing: int = 6,
    synced_first: int = 4,
) -> Workload:
    """Seed Clockwork and the store, sync a first few cleanly, then queue the rest.

    Returns with ``synced_first`` contacts already synced (with a note each) and everything else
    queued: ``new`` new contacts, ``existing`` contacts already in Clockwork (every other one
    already a candidate in the account's default project), the first-synced contacts enrolled in
    a second sequence, one new contact in both sequences, and one or two events per enrollment.
    """
    seeded = [p["id"] for p in sim.snapshot(SIM_FIRM)["projects"]]
    fresh = sim.add_project(SIM_FIRM, "Reliability — New Search")["id"]
    account_id = make_connected_account(rt, base_url=server.base_url, default_project_id=seeded[0])
    work = Workload(account_id=account_id)
    with_project = make_sequence(rt, account_id, "With project", project_id=fresh)
    by_default = make_sequence(rt, account_id, "Account default")

    first = []
    for i in range(synced_first):
        email = f"early{i}@example.com"
        work.new_emails.add(email)
        first.append(enroll(rt, with_project, email, first_name="Early", last_name=f"Bird{i}"))
        record(rt, first[-1], ActivityKind.SENT, f"Hello early {i}")
    counts = engine.run_until_idle(timeout=60)
    assert counts["synced"] == synced_first and not counts["timed_out"], counts
    work.enrollment_ids += first

    queued: list[int] = []
    for i in range(existing):
        email = f"known{i}@example.com"
        person = sim.seed_person(
            SIM_FIRM, first_name="Known", last_name=f"Person{i}", emails=[email.upper()]
        )
        work.existing[email] = person["id"]
        if i % 2 == 0:
            sim.add_candidacy(SIM_FIRM, seeded[0], person_id=person["id"])
            work.preexisting_candidacies.add((person["id"], seeded[0]))
        sequence = by_default if i % 3 else with_project
        queued.append(enroll(rt, sequence, f"  {email.title()} "))
    for i in range(new):
        email = f"new{i}@example.com"
        work.new_emails.add(email)
        details: dict[str, str] = {"first_name": "New", "last_name": f"Contact{i}"}
        if i % 2 == 0:
            details.update(title="VP Engineering", company=f"Initech {i}")
        if i % 4 == 0:
            details["linkedin_url"] = f"https://www.linkedin.com/in/new-contact-{i}"
        queued.append(enroll(rt, with_project if i % 2 else by_default, email, **details))
    queued.append(enroll(rt, with_project, "new0@example.com"))  # one contact, two projects
    queued += [enroll(rt, by_default, f"early{i}@example.com") for i in range(synced_first)]
    for n, enrollment_id in enumerate(queued):
        record(rt, enrollment_id, ActivityKind.SENT, f"Subject {n}")
        if n % 3 == 0:
            record(rt, enrollment_id, ActivityKind.OPENED, f"Subject {n}")
    for enrollment_id in first:  # new activity for people synced before the faults
        record(rt, enrollment_id, ActivityKind.OPENED, "Hello again")
    work.enrollment_ids += queued
    return work


def last_call_id(rt: Runtime) -> int:
    """The newest API call log id (to count only the calls made after this point)."""
    with rt.db.read() as session:
        ids = session.exec(select(ApiCall.id).order_by(ApiCall.id.desc()).limit(1)).all()  # type: ignore[union-attr]
    return ids[0] if ids else 0


def call_outcomes(rt: Runtime, *, after: int = 0) -> Counter[str]:
    """The engine's logged Clockwork calls after id ``after``, counted by outcome kind."""
    with rt.db.read() as session:
        calls = session.exec(select(ApiCall).where(ApiCall.id > after)).all()  # type: ignore[operator]
    kinds: Counter[str] = Counter()
    for call in calls:
        if call.status is None:
            text = call.error or ""
            kinds["timeout" if "Timeout" in text else "dropped"] += 1
        elif call.status < 400:
            kinds["ok"] += 1
        elif call.status == 429:
            kinds["429"] += 1
        elif call.status >= 500:
            kinds[str(call.status)] += 1
        else:
            kinds[str(call.status)] += 1
    kinds["total"] = len(calls)
    return kinds


def check_exactly_once(rt: Runtime, sim: SimulatorState, work: Workload) -> dict[str, Any]:
    """Assert nothing was lost or duplicated; return the figures (counts by state, people...)."""
    snapshot = sim.snapshot(SIM_FIRM)
    with rt.db.read() as session:
        rows = session.exec(
            select(Enrollment, Contact.email).join(Contact, Contact.id == Enrollment.contact_id)  # type: ignore[arg-type]
        ).all()
        activities = session.exec(select(Activity)).all()
    by_id = {enrollment.id: (enrollment, email) for enrollment, email in rows}

    statuses = Counter(str(e.status) for e, _ in by_id.values())
    unsettled = [(e.id, e.status, e.reason) for e, _ in by_id.values()
                 if e.status not in ("synced", "failed") or (e.status == "failed" and not e.reason)]  # fmt: skip
    assert not unsettled, f"enrollments neither synced nor failed with a reason: {unsettled}"

    people_by_email: dict[str, list[str]] = {}
    for person in snapshot["people"]:
        for address in {e["address"].lower() for e in person["emails"] or []}:
            people_by_email.setdefault(address, []).append(person["id"])
    without_email = [p["id"] for p in snapshot["people"] if not p["emails"]]
    duplicates = {email: ids for email, ids in people_by_email.items() if len(ids) > 1}
    assert not duplicates, f"emails with more than one person: {duplicates}"
    assert not without_email, f"people left without an email (lost creations): {without_email}"
    failed_emails = {email for e, email in by_id.values() if e.status == "failed"}
    missing = (work.emails - failed_emails) - set(people_by_email)
    assert not missing, f"emails never reaching Clockwork: {missing}"
    for email, person_id in work.existing.items():
        assert people_by_email[email] == [person_id], f"{email} was not linked to its person"
    assert len(snapshot["people"]) <= len(work.emails)

    expected_candidacies = set(work.preexisting_candidacies)
    allowed_candidacies = set(expected_candidacies)
    for enrollment, email in by_id.values():
        if enrollment.status == "synced":
            assert enrollment.clockwork_person_id == people_by_email[email][0], email
        if enrollment.project_id and email in people_by_email:
            pair = (people_by_email[email][0], enrollment.project_id)
            allowed_candidacies.add(pair)
            if enrollment.status == "synced":
                expected_candidacies.add(pair)
    candidacies = [(c["personId"], c["projectId"]) for c in snapshot["candidacies"]]
    assert len(candidacies) == len(set(candidacies)), "a candidacy was written twice"
    assert expected_candidacies <= set(candidacies) <= allowed_candidacies

    notes_per_key = Counter(
        key for note in snapshot["notes"] for key in _MARKER.findall(note["content"])
    )
    note_person = {
        key: note["personId"]
        for note in snapshot["notes"]
        for key in _MARKER.findall(note["content"])
    }
    activity_states = Counter(str(a.state) for a in activities)
    for activity in activities:
        seen = notes_per_key.get(activity.activity_key, 0)
        enrollment, email = by_id[activity.enrollment_id]
        if activity.state == "synced":
            assert seen == 1, f"activity {activity.id}: {seen} notes"
            assert note_person[activity.activity_key] == people_by_email[email][0]
        elif activity.state == "failed":
            assert seen <= 1 and activity.reason, f"activity {activity.id}: {seen} notes"
        else:
            assert activity.state == "skipped" and activity.reason and seen == 0, activity
    assert sum(notes_per_key.values()) == len(snapshot["notes"])
    assert set(notes_per_key) <= {a.activity_key for a in activities}

    return {
        "enrollments": dict(statuses),
        "activities": dict(activity_states),
        "people": len(snapshot["people"]),
        "emails": len(work.emails),
        "candidacies": len(candidacies),
        "notes": len(snapshot["notes"]),
        "duplicates": 0,
        "losses": 0,
    }

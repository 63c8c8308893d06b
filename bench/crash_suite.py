"""Crash suite: SIGKILL the sync process again and again; Clockwork ends up with everything once.

Starts ``cwsync simulator`` as its own process, with latency, so a kill can land between a
request reaching Clockwork and its answer reaching the engine. A temp SQLite store (or a scratch
database on the PostgreSQL server given with ``--db``) gets an account connected to the
simulator's demo firm, two sequences (a project created for the run and a seeded one), contacts
new to Clockwork and people already there, and email events. Then, ``--kills`` times, it starts
``cwsync sync --until-idle``, kills it with SIGKILL at a moment chosen in turn, and, while the
engine is down, adds a wave of contacts and events. The moments:

- ``startup``: at random within the first second (imports, migration, the claim transaction);
- ``random``: at random within 1.5 s of the engine's first request;
- ``POST /people`` / ``…/email_addresses`` / ``…/candidacies`` / ``…/notes``: as soon as the
  simulator has counted one more such request, i.e. the write exists in Clockwork and the engine
  has not heard back yet (the window between "created in Clockwork" and "recorded in the store").

Leases of killed work expire after ``--lease-seconds`` (passed as ``CWSYNC_LEASE_SECONDS``). Last,
one sync runs to completion; the suite then compares the simulator's admin state
(``/_admin/firms/demo/state``) with ``cwsync status --json`` and the store's activity keys and
prints a table of kills and a JSON summary: kills, enrollments, persons, duplicates, losses.
Exits 1 if anything was duplicated or lost.

    python bench/crash_suite.py [--kills 20] [--contacts 60] [--wave 10] [--latency-ms 60]
    python bench/crash_suite.py --db postgresql+psycopg://cwsync:cwsync@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: bench, tests
from bench.bench_account import add_sequence, connected_account
from clockwork_simulator import (
    DEMO_API_KEY,
    DEMO_API_SECRET,
    DEMO_FIRM,
    DEMO_FIRM_SERVICE_KEY,
)
from sync_engine.config import Settings
from sync_engine.engine.pipeline import NOTE_KEY_PREFIX
from sync_engine.models import Activity, ActivityKind, Contact, Enrollment
from sync_engine.runtime import Runtime, build_runtime
from sync_engine.services import enrollments, events
from tests import loopback, postgres

ACCOUNT = "Crash Suite"
MOMENTS = (
    "POST /people",
    "random",
    "POST /people/{id}/notes",
    "POST /people/{id}/email_addresses",
    "startup",
    "POST /projects/{id}/candidacies",
)
_MARKER = re.compile(re.escape(NOTE_KEY_PREFIX) + r"([0-9a-f]+)")


@dataclass
class Kill:
    """One SIGKILL: when it was aimed, how long after the start, and what had reached Clockwork."""

    number: int
    moment: str
    after_seconds: float
    landed: bool  # the aimed-at write had reached Clockwork when the kill was sent
    requests_before_kill: int
    unrecorded: dict[str, list[str]] = field(default_factory=dict)  # in Clockwork, not stored


@dataclass
class Suite:
    """Everything a run needs: processes, store, simulator address, the contacts made so far."""

    workdir: Path
    db_url: str
    sim_url: str
    env: dict[str, str]
    rt: Runtime
    rng: random.Random
    sequences: list[int] = field(default_factory=list)
    enrollment_ids: list[int] = field(default_factory=list)
    existing: dict[str, str] = field(default_factory=dict)  # email -> seeded person id
    emails: set[str] = field(default_factory=set)
    log: Callable[[str], None] = print

    @property
    def admin(self) -> str:
        return f"{self.sim_url}/_admin/firms/{DEMO_FIRM}"


# --- processes -----------------------------------------------------------------------------------


def _cwsync(*args: str) -> list[str]:
    return [sys.executable, "-m", "sync_engine", *args]


def _start_simulator(workdir: Path, latency_ms: float, jitter_ms: float) -> tuple[Any, str]:
    port = loopback.free_port()
    with (workdir / "simulator.log").open("w") as log:  # the child keeps its own handle
        process = subprocess.Popen(
            _cwsync("simulator", "--port", str(port), "--latency-ms", str(latency_ms),
                    "--jitter-ms", str(jitter_ms)),
            cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        loopback.wait_until_answering(
            f"{url}/_admin/health", process, seconds=20, log=workdir / "simulator.log"
        )
    except RuntimeError:
        process.kill()
        raise
    return process, url


def _spawn_sync(suite: Suite, run: int, timeout: float = 300) -> subprocess.Popen[bytes]:
    with (suite.workdir / f"sync-{run:03d}.log").open("w") as out:
        return subprocess.Popen(
            _cwsync("sync", "--until-idle", "--timeout", str(timeout)),
            cwd=suite.workdir, env=suite.env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _route_counts(client: httpx.Client, suite: Suite) -> dict[str, int]:
    stats = client.get(f"{suite.admin}/stats").json()
    routes = dict(stats["routes"])
    routes["total"] = stats["total"]
    return routes


# --- the store and Clockwork ---------------------------------------------------------------------


def _setup(suite: Suite, contacts: int) -> None:
    """The account, connected to the simulator's demo firm, two sequences and the first contacts."""
    rt = suite.rt
    seeded_project = httpx.get(f"{suite.admin}/state").json()["projects"][0]["id"]
    new_project = httpx.post(
        f"{suite.admin}/projects", json={"name": "Crash Suite — New Search"}
    ).json()["project"]["id"]
    keys = {"api_key": DEMO_API_KEY, "api_secret": DEMO_API_SECRET,
            "firm_service_key": DEMO_FIRM_SERVICE_KEY}  # fmt: skip
    account_id = connected_account(
        rt, name=ACCOUNT, base_url=suite.sim_url, firm=DEMO_FIRM, keys=keys,
        default_project_id=seeded_project,
    )  # fmt: skip
    for name, project in (("New search", new_project), ("Account default", None)):
        suite.sequences.append(add_sequence(rt, account_id, name, project_id=project))
    _add_wave(suite, 0, contacts)


def _add_wave(suite: Suite, wave: int, size: int) -> None:
    """``size`` contacts (a fifth already in Clockwork, one re-enrolled in the other sequence),
    one "sent" each, and new events on a few earlier enrollments (some synced by now)."""
    rt, rng = suite.rt, suite.rng
    earlier = list(suite.enrollment_ids)
    added: list[int] = []
    with rt.db.write() as session:
        for i in range(size):
            email = f"w{wave}c{i}@example.com"
            if i % 5 == 4:
                email = f"known-w{wave}c{i}@example.com"
                person = httpx.post(
                    f"{suite.admin}/people",
                    json={"first_name": "Known", "last_name": f"W{wave}C{i}", "emails": [email]},
                ).json()["person"]
                suite.existing[email] = person["id"]
            suite.emails.add(email)
            details = {"first_name": "Crash", "last_name": f"W{wave}C{i}"}
            if i % 7 == 3:  # no name: the person is named after the email's local part
                details = {}
            if i % 2 == 0:
                details |= {"title": "VP Engineering", "company": f"Initech {wave}"}
            if i % 3 == 0:
                details["linkedin_url"] = f"https://www.linkedin.com/in/crash-w{wave}c{i}"
            contact = enrollments.parse_contact({"email": email, **details})
            sequence_id = suite.sequences[i % 2]
            enrollment = enrollments.add_contact(
                session=session, sequence_id=sequence_id, contact=contact
            )
            assert enrollment.id is not None
            added.append(enrollment.id)
            if i == 0:  # the same contact in the other sequence: one person, two candidacies
                again = enrollments.add_contact(
                    session=session, sequence_id=suite.sequences[1], contact=contact,
                )  # fmt: skip
                assert again.id is not None
                added.append(again.id)
        for enrollment_id in added:
            events.record_event(
                session=session, enrollment_id=enrollment_id, kind=ActivityKind.SENT, at=None,
                subject=f"Intro, wave {wave}",
            )  # fmt: skip
        for enrollment_id in rng.sample(earlier, min(3, len(earlier))):
            events.record_event(
                session=session, enrollment_id=enrollment_id, kind=ActivityKind.OPENED, at=None,
                subject=f"Opened, wave {wave}",
            )  # fmt: skip
    suite.enrollment_ids += added


# --- killing -------------------------------------------------------------------------------------


def _kill_once(suite: Suite, number: int, moment: str, client: httpx.Client) -> Kill | None:
    """Start a sync, kill it at ``moment``; None if it finished before the moment came.

    A write moment kills at the first to eighth such request of the run (at random), so kills
    also land after some work was done and recorded.
    """
    rng = suite.rng
    before = _route_counts(client, suite)
    started = time.monotonic()
    process = _spawn_sync(suite, number)
    landed = False
    deadline = started + 30  # a loaded machine can take 15 s or more to start a sync process
    nth = rng.randint(1, 8)
    if moment == "startup":
        time.sleep(rng.uniform(0.05, 1.0))
    else:
        while time.monotonic() < deadline and process.poll() is None:
            counts = _route_counts(client, suite)
            if moment == "random" and counts["total"] > before["total"]:
                time.sleep(rng.uniform(0.0, 3.0))
                break
            if counts.get(moment, 0) >= before.get(moment, 0) + nth:
                landed = True
                break
            time.sleep(0.002)
    if process.poll() is not None:
        return None  # it ran out of work first
    process.send_signal(signal.SIGKILL)
    process.wait()
    after = round(time.monotonic() - started, 2)
    total = _route_counts(client, suite)["total"] - before["total"]
    return Kill(number, moment, after, landed, total, _unrecorded(suite))


def _unrecorded(suite: Suite) -> dict[str, list[str]]:
    """Writes that exist in Clockwork but not (yet) in the store: the kill landed in the window
    between "created in Clockwork" and "recorded in the store"; the next run must adopt them."""
    state = httpx.get(f"{suite.admin}/state", timeout=30).json()
    with suite.rt.db.read() as session:
        contacts = session.exec(select(Contact.clockwork_person_id, Contact.email_attached)).all()
        enrolled = session.exec(
            select(Enrollment.clockwork_person_id, Enrollment.project_id, Enrollment.candidacy_done)
        ).all()
        settled_keys = set(
            session.exec(select(Activity.activity_key).where(Activity.state == "synced")).all()
        )
    recorded = {person_id for person_id, _ in contacts if person_id}
    emails_recorded = {person_id for person_id, attached in contacts if attached}
    candidacies_recorded = {(p, project) for p, project, done in enrolled if done}
    seeded = set(suite.existing.values())
    found: dict[str, list[str]] = {}
    for person in state["people"]:
        if person["id"] in seeded:
            continue
        if person["id"] not in recorded:
            found.setdefault("person", []).append(person["id"])
        elif person["emails"] and person["id"] not in emails_recorded:
            found.setdefault("email", []).append(person["id"])
    for candidacy in state["candidacies"]:
        pair = (candidacy["personId"], candidacy["projectId"])
        if candidacy["personId"] not in seeded and pair not in candidacies_recorded:
            found.setdefault("candidacy", []).append(candidacy["id"])
    for note in state["notes"]:
        if any(key not in settled_keys for key in _MARKER.findall(note["content"])):
            found.setdefault("note", []).append(note["id"])
    return found


def _kill_loop(suite: Suite, kills: int, wave: int) -> tuple[list[Kill], int]:
    """Kill ``kills`` sync processes, adding a wave of work after each; returns the kills and
    how many runs finished on their own before their moment."""
    done: list[Kill] = []
    finished_early = 0
    run = 0
    with httpx.Client(timeout=5) as client:
        while len(done) < kills:
            run += 1
            moment = MOMENTS[len(done) % len(MOMENTS)]
            kill = _kill_once(suite, run, moment, client)
            if kill is None:
                finished_early += 1
                if finished_early > kills:
                    raise RuntimeError("the sync keeps finishing before the kill: add work")
            else:
                kill.number = len(done) + 1
                done.append(kill)
                suite.log(
                    f"kill {kill.number:>3}  {kill.moment:<34} after {kill.after_seconds:>5.2f}s"
                    f"  landed={'yes' if kill.landed else 'no ':<3}"
                    f"  requests={kill.requests_before_kill:<4}"
                    f"  unrecorded={_sizes(kill.unrecorded) or '-'}"
                )
            _add_wave(suite, run, wave)
    return done, finished_early


def _sizes(found: dict[str, list[str]]) -> dict[str, int]:
    return {kind: len(ids) for kind, ids in found.items()}


def _distinct(kills: list[Kill]) -> dict[str, int]:
    """Distinct writes some kill left in Clockwork unrecorded (each had to be adopted later)."""
    seen: dict[str, set[str]] = {}
    for kill in kills:
        for kind, ids in kill.unrecorded.items():
            seen.setdefault(kind, set()).update(ids)
    return {kind: len(ids) for kind, ids in sorted(seen.items())}


# --- the verdict ---------------------------------------------------------------------------------


def _verdict(suite: Suite) -> dict[str, Any]:
    """Compare Clockwork (admin state) with the store (status JSON, activity keys)."""
    state = httpx.get(f"{suite.admin}/state", timeout=30).json()
    status = subprocess.run(
        _cwsync("status", ACCOUNT, "--json"), cwd=suite.workdir, env=suite.env,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows = json.loads(status.stdout)
    with suite.rt.db.read() as session:
        activities = session.exec(select(Activity.activity_key, Activity.state)).all()

    people_by_email: dict[str, list[str]] = {}
    for person in state["people"]:
        for address in {e["address"].lower() for e in person["emails"] or []}:
            people_by_email.setdefault(address, []).append(person["id"])
    orphans = [p["id"] for p in state["people"] if not p["emails"]]
    person_duplicates = sum(len(ids) - 1 for ids in people_by_email.values()) + len(orphans)
    candidacies = [(c["personId"], c["projectId"]) for c in state["candidacies"]]
    candidacy_duplicates = len(candidacies) - len(set(candidacies))
    notes_per_key = Counter(k for n in state["notes"] for k in _MARKER.findall(n["content"]))
    note_duplicates = sum(n - 1 for n in notes_per_key.values() if n > 1)

    losses: list[str] = []
    statuses = Counter(row["status"] for row in rows)
    for row in rows:
        email, person_id = row["email"], row["clockwork_person_id"]
        if row["status"] != "synced":
            losses.append(f"enrollment {row['enrollment_id']} {row['status']} ({row['reason']})")
        elif people_by_email.get(email, [None])[0] != person_id:
            losses.append(f"enrollment {row['enrollment_id']}: person {person_id} lacks {email}")
        elif row["project_id"] and (person_id, row["project_id"]) not in set(candidacies):
            losses.append(f"enrollment {row['enrollment_id']}: no candidacy")
        if row["activities"]["pending"] or row["activities"]["failed"]:
            losses.append(f"enrollment {row['enrollment_id']}: activities {row['activities']}")
    for email in suite.emails - set(people_by_email):
        losses.append(f"{email} never reached Clockwork")
    for email, person_id in suite.existing.items():
        if people_by_email.get(email) != [person_id]:
            losses.append(f"{email} was not linked to its existing person")
    for key, activity_state in activities:
        if activity_state == "synced" and notes_per_key.get(key, 0) == 0:
            losses.append(f"activity {key} synced without a note")
    return {
        "enrollments": len(rows),
        "statuses": dict(statuses),
        "emails": len(suite.emails),
        "persons": len(state["people"]),
        "persons_expected": len(suite.emails),
        "candidacies": len(candidacies),
        "notes": len(state["notes"]),
        "activities": len(activities),
        "duplicates": person_duplicates + candidacy_duplicates + note_duplicates,
        "duplicate_persons": person_duplicates,
        "duplicate_candidacies": candidacy_duplicates,
        "duplicate_notes": note_duplicates,
        "losses": len(losses),
        "loss_details": losses[:20],
    }


# --- the run -------------------------------------------------------------------------------------


def run_crash_suite(
    *,
    kills: int = 20,
    contacts: int = 60,
    wave: int = 10,
    latency_ms: float = 60.0,
    jitter_ms: float = 20.0,
    lease_seconds: float = 2.0,
    workers: int = 4,
    db: str | None = None,
    seed: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the whole suite; returns the summary (kills, enrollments, persons, duplicates, losses)."""
    started = time.monotonic()
    scratch_pg: tuple[str, str] | None = None
    with tempfile.TemporaryDirectory(prefix="cwsync-crash-") as tmp:
        workdir = Path(tmp)
        if db and db.startswith("postgresql"):
            name, db_url = postgres.create_database(db, "cwsync_crash")
            scratch_pg = (db, name)
        else:
            db_url = db or f"sqlite:///{workdir / 'store.db'}"
        key = Fernet.generate_key().decode()
        env = {
            **os.environ,
            "CWSYNC_DATABASE_URL": db_url,
            "CWSYNC_ENCRYPTION_KEY": key,
            "CWSYNC_LEASE_SECONDS": str(lease_seconds),
            "CWSYNC_HTTP_TIMEOUT_SECONDS": str(lease_seconds / 4),
            "CWSYNC_WORKERS": str(workers),
            "CWSYNC_DEFAULT_MAX_RPS": "40",
            "CWSYNC_MAX_ATTEMPTS": "50",
            "CWSYNC_BACKOFF_BASE_SECONDS": "0.2",
            "CWSYNC_BACKOFF_MAX_SECONDS": "1",
        }
        simulator, sim_url = _start_simulator(workdir, latency_ms, jitter_ms)
        settings = Settings(_env_file=None, database_url=db_url, encryption_key=key, demo=False)  # type: ignore[call-arg]
        rt = build_runtime(settings)
        try:
            suite = Suite(workdir=workdir, db_url=db_url, sim_url=sim_url, env=env, rt=rt,
                          rng=random.Random(seed), log=log)  # fmt: skip
            _setup(suite, contacts)
            done, finished_early = _kill_loop(suite, kills, wave)
            final = subprocess.run(
                _cwsync("sync", "--until-idle", "--timeout", "300"), cwd=workdir, env=env,
                capture_output=True, text=True,
            )  # fmt: skip
            summary = _verdict(suite)
            summary |= {
                "kills": len(done),
                "kills_in_window": sum(k.landed for k in done),
                "kills_leaving_unrecorded_writes": sum(bool(k.unrecorded) for k in done),
                "unrecorded_writes_adopted": _distinct(done),
                "kills_by_moment": dict(Counter(k.moment for k in done)),
                "runs_finished_before_the_kill": finished_early,
                "final_sync_exit": final.returncode,
                "final_sync_counts": json.loads(final.stdout or "{}"),
                "store": "postgresql" if db_url.startswith("postgresql") else "sqlite",
                "seconds": round(time.monotonic() - started, 1),
                "kill_log": [asdict(k) for k in done],
            }
        finally:
            rt.close()
            simulator.send_signal(signal.SIGINT)
            try:
                simulator.wait(10)
            except subprocess.TimeoutExpired:
                simulator.kill()
            if scratch_pg is not None:
                postgres.drop_database(*scratch_pg)
    return summary


def main() -> None:
    """Parse arguments, run, print the table and the JSON line; exit 1 on any duplicate or loss."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--contacts", type=int, default=60, help="contacts before the first kill")
    parser.add_argument("--wave", type=int, default=10, help="contacts added after each kill")
    parser.add_argument("--latency-ms", type=float, default=60.0)
    parser.add_argument("--jitter-ms", type=float, default=20.0)
    parser.add_argument("--lease-seconds", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--db", help="a PostgreSQL admin URL (a scratch database is created)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    summary = run_crash_suite(
        kills=args.kills, contacts=args.contacts, wave=args.wave, latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms, lease_seconds=args.lease_seconds, workers=args.workers,
        db=args.db, seed=args.seed,
    )  # fmt: skip
    columns = ("kills", "kills_in_window", "enrollments", "persons", "persons_expected",
               "candidacies", "notes", "duplicates", "losses", "seconds")  # fmt: skip
    print()
    print(" | ".join(columns))
    print(" | ".join(str(summary[c]) for c in columns))
    for detail in summary["loss_details"]:
        print(f"loss: {detail}")
    print(json.dumps({k: v for k, v in summary.items() if k != "kill_log"}, sort_keys=True))
    sys.exit(1 if summary["duplicates"] or summary["losses"] else 0)


if __name__ == "__main__":
    main()

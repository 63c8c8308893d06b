"""Sync throughput against the simulator on loopback: calls per contact, wall time, concurrency gain.

Seeds a fresh store with one connected account and ``--contacts`` enrollments (``--linked-share``
of them already exist in Clockwork), each with one "sent" email event, then runs the engine until
idle twice in the same invocation: with the configured worker pool, and one contact at a time
(``workers=1``, the same engine and client). The simulator adds ``--latency-ms`` to every
response. Prints a table and a JSON line.

    python bench/sync_throughput.py [--contacts 200] [--latency-ms 100] [--workers 8]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from sync_engine.clockwork.simulator import FaultConfig, SimulatorServer, SimulatorState
from sync_engine.config import Settings
from sync_engine.engine.passes import Engine
from sync_engine.models import ActivityKind
from sync_engine.runtime import build_runtime
from sync_engine.services import accounts, enrollments

FIRM = "bench"
KEYS = {"api_key": "bench-api-key", "api_secret": "bench-secret", "firm_service_key": "bench-fsk"}


def run(
    *, contacts: int, latency_ms: float, workers: int, linked_share: float, max_rps: float
) -> dict[str, Any]:
    """One engine run over a fresh store and a fresh simulator firm; returns its figures."""
    state = SimulatorState()
    state.add_firm(FIRM, **KEYS)
    linked = int(contacts * linked_share)
    for i in range(linked):
        state.seed_person(
            FIRM, first_name="Known", last_name=str(i), emails=[f"known{i}@example.com"]
        )
    project = state.snapshot(FIRM)["projects"][0]["id"]
    with (
        tempfile.TemporaryDirectory() as tmp,
        SimulatorServer(state, faults=FaultConfig(latency_ms=latency_ms)) as server,
    ):
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            encryption_key=Fernet.generate_key().decode(),
            workers=workers,
            default_max_rps=max_rps,
            demo=False,
        )
        rt = build_runtime(settings)
        with rt.db.write() as session:
            account = accounts.create_account(
                session=session, name="Bench", clock=rt.clock, actor="bench"
            )
            assert account.id is not None
            account_id = account.id
        fields = {"firm": FIRM, "base_url": server.base_url, **KEYS}
        accounts.connect(rt, account_id=account_id, fields=fields, actor="bench")
        with rt.db.write() as session:
            accounts.update_settings(
                session=session, account_id=account_id, changes={"max_rps": max_rps},
                clock=rt.clock, actor="bench",
            )  # fmt: skip
            sequence = accounts.add_sequence(
                session=session, account_id=account_id, name="Bench", project_id=project,
                clock=rt.clock, actor="bench",
            )  # fmt: skip
            assert sequence.id is not None
            for i in range(contacts):
                email = f"known{i}@example.com" if i < linked else f"new{i}@example.com"
                contact = enrollments.parse_contact({
                    "email": email, "first_name": "Bench", "last_name": str(i), "title": "VP",
                    "company": "Initech", "linkedin_url": f"https://linkedin.com/in/bench{i}",
                })  # fmt: skip
                enrollment = enrollments.add_contact(
                    session=session, sequence_id=sequence.id, contact=contact, clock=rt.clock
                )
                assert enrollment.id is not None
                enrollments.record_event(
                    session=session, enrollment_id=enrollment.id, kind=ActivityKind.SENT,
                    at=None, subject="Intro", clock=rt.clock,
                )  # fmt: skip
        before = state.request_counts(FIRM)["routes"]
        started = time.perf_counter()
        counts = Engine(rt).run_until_idle(timeout=3600)
        wall = time.perf_counter() - started
        routes = state.request_counts(FIRM)["routes"]
        rt.close()
    calls = {route: routes.get(route, 0) - before.get(route, 0) for route in routes}
    total = sum(calls.values())
    created = contacts - linked
    notes = calls.get("POST /people/{id}/notes", 0)
    return {
        "workers": workers,
        "contacts": contacts,
        "created": created,
        "linked": linked,
        "synced": counts.get("synced", 0),
        "calls": total,
        "calls_per_created": _per_created(calls, created),
        "calls_per_linked": 2.0 if linked else None,  # search + candidacy, checked below
        "notes_per_activity": notes / contacts,
        "wall_seconds": round(wall, 2),
        "contacts_per_second": round(contacts / wall, 2),
        "requests_per_second": round(total / wall, 1),
        "check_linked_calls": total - notes - created * _per_created(calls, created) == 2 * linked,
    }


def _per_created(calls: dict[str, int], created: int) -> float:
    if not created:
        return 0.0
    create_steps = (
        "POST /people",
        "POST /people/{id}/email_addresses",
        "POST /people/{id}/positions",
        "POST /people/{id}/linkedin_urls",
    )
    # Each created contact also costs one search and one candidacy.
    return sum(calls.get(route, 0) for route in create_steps) / created + 2


def main() -> None:
    """Parse arguments, run both configurations, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--linked-share", type=float, default=0.5)
    parser.add_argument("--max-rps", type=float, default=1000.0, help="engine budget (no limit)")
    args = parser.parse_args()
    common = {"contacts": args.contacts, "latency_ms": args.latency_ms,
              "linked_share": args.linked_share, "max_rps": args.max_rps}  # fmt: skip
    pooled = run(workers=args.workers, **common)
    serial = run(workers=1, **common)
    columns = ["workers", "contacts", "synced", "calls", "calls_per_created", "calls_per_linked",
               "notes_per_activity", "wall_seconds", "contacts_per_second", "requests_per_second"]  # fmt: skip
    print(f"latency {args.latency_ms:.0f} ms, {args.contacts} contacts ({pooled['linked']} linked)")
    print(" | ".join(columns))
    for row in (pooled, serial):
        print(" | ".join(str(row[c]) for c in columns))
    speedup = serial["wall_seconds"] / pooled["wall_seconds"]
    print(f"speed-up of {args.workers} workers over one at a time: {speedup:.1f}x")
    print(json.dumps({"pooled": pooled, "one_at_a_time": serial, "speedup": round(speedup, 2)}))


if __name__ == "__main__":
    main()

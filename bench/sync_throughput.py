"""Sync throughput against the simulator on loopback: calls per contact, efficiency, 429 share.

Seeds a fresh store with one connected account and ``--contacts`` enrollments (``--linked-share``
of them already exist in Clockwork), each with one "sent" email event, then runs the engine until
idle, in the same invocation, as:

- ``told``: the worker pool with the firm's limit told (``max_rps = --rate-limit``);
- ``unknown``: the worker pool with no limit told (the pacer adapts, starting conservatively);
- ``naive``: one contact at a time (``workers=1``), same engine, same client, limit told.

The simulator adds ``--latency-ms`` to every response and, with ``--rate-limit R``, answers 429
above R requests/s per firm. Efficiency is successful requests/s divided by R. Prints a table and
a JSON line.

    python bench/sync_throughput.py [--contacts 200] [--latency-ms 150] [--rate-limit 25]
    python bench/sync_throughput.py --rate-limit 0 --latency-ms 100   # latency-bound, no limit
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlmodel import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: bench
from bench.bench_account import FIRM, KEYS, add_sequence, connected_account, enroll
from clockwork_simulator import FaultConfig, SimulatorServer, SimulatorState
from sync_engine.config import Settings
from sync_engine.engine.passes import Engine
from sync_engine.models import Activity, ActivityKind, ApiCall, Enrollment
from sync_engine.runtime import build_runtime
from sync_engine.services import events


def run(
    *,
    contacts: int,
    latency_ms: float,
    workers: int,
    linked_share: float,
    max_rps: float | None,
    rate_limit: float | None,
    mode: str,
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
        SimulatorServer(
            state,
            faults=FaultConfig(
                latency_ms=latency_ms, rate_limit_rps=rate_limit, retry_after="seconds"
            ),
        ) as server,
    ):
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            encryption_key=Fernet.generate_key().decode(),
            workers=workers,
            demo=False,
            api_call_log_retention=1_000_000,
        )
        rt = build_runtime(settings)
        account_id = connected_account(rt, base_url=server.base_url, max_rps=max_rps)
        sequence_id = add_sequence(rt, account_id, "Bench", project_id=project)
        ids = enroll(
            rt, sequence_id,
            ({"email": f"known{i}@example.com" if i < linked else f"new{i}@example.com",
              "first_name": "Bench", "last_name": str(i), "title": "VP", "company": "Initech",
              "linkedin_url": f"https://linkedin.com/in/bench{i}"} for i in range(contacts)),
        )  # fmt: skip
        with rt.db.write() as session:
            for enrollment_id in ids:
                events.record_event(
                    session=session, enrollment_id=enrollment_id, kind=ActivityKind.SENT,
                    at=None, subject="Intro",
                )  # fmt: skip
        started = time.perf_counter()
        counts = Engine(rt).run_until_idle(timeout=3600)
        wall = time.perf_counter() - started
        with rt.db.read() as session:
            logged = session.exec(select(ApiCall.method, ApiCall.path, ApiCall.status)).all()
            # The store's final state, not the passes' outcome counts: an enrollment whose
            # note was throttled ends its first attempt "retrying" and is synced all the same.
            synced = session.exec(
                select(func.count()).select_from(Enrollment).where(Enrollment.status == "synced")
            ).one()
            noted = session.exec(
                select(func.count()).select_from(Activity).where(Activity.state == "synced")
            ).one()
        rt.close()
    statuses = Counter(status for _, _, status in logged)
    successes = sum(n for status, n in statuses.items() if status and status < 400)
    throttled = statuses.get(429, 0)
    # Successful calls by route, from the engine's own API call log (the simulator counts 429s too).
    calls = Counter(f"{m} {p}" for m, p, status in logged if status and status < 400)
    created = contacts - linked
    notes = calls.get("POST /people/{id}/notes", 0)
    return {
        "mode": mode,
        "workers": workers,
        "contacts": contacts,
        "created": created,
        "linked": linked,
        "synced": synced,
        "notes_written": noted,
        "timed_out": bool(counts.get("timed_out")),
        "calls": successes,
        "calls_per_created": _per_created(calls, created),
        "calls_per_linked": 2.0 if linked else None,  # search + candidacy, checked below
        "notes_per_activity": notes / contacts,
        "wall_seconds": round(wall, 2),
        "contacts_per_second": round(contacts / wall, 2),
        "requests_per_second": round(successes / wall, 1),
        "efficiency": round(successes / wall / rate_limit, 3) if rate_limit else None,
        "share_429": round(throttled / sum(statuses.values()), 4) if statuses else 0.0,
        "check_linked_calls": successes - notes - created * _per_created(calls, created)
        == 2 * linked,
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
    """Parse arguments, run the three configurations, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--contacts", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--rate-limit", type=float, default=25.0, help="0: no limit")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--linked-share", type=float, default=0.5)
    parser.add_argument("--modes", default="told,unknown,naive")
    args = parser.parse_args()
    limit = args.rate_limit or None
    common = {"contacts": args.contacts, "latency_ms": args.latency_ms,
              "linked_share": args.linked_share, "rate_limit": limit}  # fmt: skip
    told_budget = limit or 1000.0
    plans = {
        "told": {"workers": args.workers, "max_rps": told_budget},
        "unknown": {"workers": args.workers, "max_rps": None},
        "naive": {"workers": 1, "max_rps": told_budget},
    }
    rows = [run(mode=mode, **plans[mode], **common) for mode in args.modes.split(",")]
    columns = ["mode", "workers", "synced", "calls", "calls_per_created", "calls_per_linked",
               "notes_per_activity", "wall_seconds", "requests_per_second", "efficiency",
               "share_429"]  # fmt: skip
    print(
        f"latency {args.latency_ms:.0f} ms, rate limit {limit or 'none'} req/s, "
        f"{args.contacts} contacts ({rows[0]['linked']} already in Clockwork)"
    )
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(str(row[c]) for c in columns))
    by_mode = {row["mode"]: row for row in rows}
    if "naive" in by_mode and "told" in by_mode:
        speedup = by_mode["naive"]["wall_seconds"] / by_mode["told"]["wall_seconds"]
        print(f"worker pool vs one at a time: {speedup:.1f}x faster")
    print(json.dumps({"runs": rows}))


if __name__ == "__main__":
    main()

"""Scale-out: 1, 2 and 3 engine processes sharing one PostgreSQL queue, against a latency-bound simulator.

For each replica count, a fresh database gets ``--contacts`` queued enrollments; that many
``cwsync sync --until-idle`` processes start at once (each with ``--workers`` threads), and the
wall time until all exit gives the throughput (the headline; it includes process start-up).
"Active" is the span from the first sync attempt opened to the last one closed: the engines at
work, without start-up and exit. Afterwards it proves no enrollment was processed twice (one sync
attempt per enrollment, one Clockwork person per email, the minimal number of requests). Prints
a table and a JSON line.

    python bench/scale_out.py --pg postgresql+psycopg://cwsync:cwsync@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlmodel import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: bench, tests
from bench.bench_account import FIRM, KEYS, add_sequence, connected_account, enroll
from clockwork_simulator import FaultConfig, SimulatorServer, SimulatorState
from sync_engine.config import Settings
from sync_engine.models import Enrollment, SyncAttempt
from sync_engine.runtime import build_runtime
from tests import postgres


def run(
    *, replicas: int, contacts: int, workers: int, latency_ms: float, admin_url: str
) -> dict[str, Any]:
    """One measurement: ``replicas`` engine processes over one fresh database."""
    state = SimulatorState()
    state.add_firm(FIRM, **KEYS)
    name, url = postgres.create_database(admin_url, "cwsync_scale")
    key = Fernet.generate_key().decode()
    try:
        with SimulatorServer(state, faults=FaultConfig(latency_ms=latency_ms)) as server:
            settings = Settings(_env_file=None, database_url=url, encryption_key=key, demo=False)  # type: ignore[call-arg]
            rt = build_runtime(settings)
            account_id = connected_account(rt, name="Scale", base_url=server.base_url, max_rps=1000)
            sequence_id = add_sequence(rt, account_id, "Scale")
            enroll(
                rt, sequence_id,
                ({"email": f"p{i}@scale.example", "first_name": "P"} for i in range(contacts)),
            )  # fmt: skip
            before = state.request_counts(FIRM)["total"]
            env = {
                **os.environ,
                "CWSYNC_DATABASE_URL": url,
                "CWSYNC_ENCRYPTION_KEY": key,
                "CWSYNC_WORKERS": str(workers),
                "CWSYNC_DEMO": "false",
                # One firm shared by every process: the firm split would give it to one engine.
                "CWSYNC_PARTITION_FIRMS": "false",
            }
            command = [
                sys.executable,
                "-m",
                "sync_engine",
                "sync",
                "--until-idle",
                "--timeout",
                "600",
            ]
            started = time.perf_counter()
            processes = [
                subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(replicas)
            ]
            outputs = [p.communicate() for p in processes]
            wall = time.perf_counter() - started
            failed = [
                err.decode()[-300:]
                for p, (_, err) in zip(processes, outputs, strict=True)
                if p.returncode
            ]
            requests = state.request_counts(FIRM)["total"] - before
            people = state.snapshot(FIRM)["people"]
            with rt.db.read() as session:
                synced = session.exec(
                    select(func.count())
                    .select_from(Enrollment)
                    .where(Enrollment.status == "synced")
                ).one()
                first_started, last_finished = session.exec(
                    select(func.min(SyncAttempt.started_at), func.max(SyncAttempt.finished_at))
                ).one()
                attempts = session.exec(
                    select(SyncAttempt.enrollment_id, func.count()).group_by(
                        SyncAttempt.enrollment_id
                    )  # type: ignore[arg-type]
                ).all()
            rt.close()
    finally:
        postgres.drop_database(admin_url, name)
    per_process = [json.loads(out.decode() or "{}").get("synced", 0) for out, _ in outputs]
    return {
        "replicas": replicas,
        "contacts": contacts,
        "synced": synced,
        "synced_by_process": per_process,
        "wall_seconds": round(wall, 2),
        "contacts_per_second": round(contacts / wall, 2),
        # The engines at work, without process start-up and exit: first attempt opened to last
        # attempt closed (stored by the engines themselves, so it costs nothing to measure).
        "active_seconds": round((last_finished - first_started).total_seconds(), 2)
        if first_started and last_finished
        else None,
        "processed_twice": sum(1 for _, n in attempts if n > 1),
        "people_created": len(people),
        "duplicate_people": len(people) - len({p["preferredEmailAddress"] for p in people}),
        "requests": requests,
        "minimal_requests": 3 * contacts,  # search + create + email per contact
        "errors": failed,
    }


def _ratio(base: float | None, value: float | None) -> str:
    return f"{base / value:.2f}x" if base and value else "-"


def main() -> None:
    """Run 1..N replicas and print the comparison."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--pg", default=os.environ.get("CWSYNC_TEST_POSTGRES_URL"), help="admin URL"
    )
    parser.add_argument("--contacts", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4, help="threads per engine process")
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--replicas", default="1,2,3")
    args = parser.parse_args()
    if not args.pg:
        parser.error("give --pg ADMIN_URL (or set CWSYNC_TEST_POSTGRES_URL)")
    rows = [
        run(replicas=int(n), contacts=args.contacts, workers=args.workers,
            latency_ms=args.latency_ms, admin_url=args.pg)
        for n in args.replicas.split(",")
    ]  # fmt: skip
    base = rows[0]["contacts_per_second"]
    print(
        f"{args.contacts} contacts, {args.workers} workers per process, latency {args.latency_ms:.0f} ms"
    )
    print(
        "replicas | wall s | contacts/s | vs 1 | active s | vs 1 active | processed twice | "
        "duplicate people | requests (min)"
    )
    base_active = rows[0]["active_seconds"]
    for row in rows:
        print(
            f"{row['replicas']} | {row['wall_seconds']} | {row['contacts_per_second']} | "
            f"{row['contacts_per_second'] / base:.2f}x | {row['active_seconds']} | "
            f"{_ratio(base_active, row['active_seconds'])} | {row['processed_twice']} | "
            f"{row['duplicate_people']} | {row['requests']} ({row['minimal_requests']})"
        )
    print(json.dumps({"runs": rows}))


if __name__ == "__main__":
    main()

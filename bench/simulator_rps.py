"""Requests per second the Clockwork simulator serves on loopback, with no faults.

Starts a `SimulatorServer` (in its own process by default, so the clients do not compete with
it for the GIL), seeds a firm with people, then drives it from a few threads of plain httpx
clients doing a mix of people searches, person creations and notes for a few seconds. Prints a
table and a JSON line.

    python bench/simulator_rps.py [--seconds 5] [--threads 4] [--people 1000] [--in-process]
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

import httpx

from clockwork_simulator import SimulatorServer, SimulatorState

FIRM, API_KEY, API_SECRET, SERVICE_KEY = "bench", "bench-key", "bench-secret", "bench-fsk"


def seeded_state(people: int) -> SimulatorState:
    """A state with the bench firm and ``people`` people, each with one email."""
    state = SimulatorState()
    state.add_firm(FIRM, api_key=API_KEY, api_secret=API_SECRET, firm_service_key=SERVICE_KEY)
    for i in range(people):
        state.seed_person(
            FIRM, first_name=f"Seed{i}", last_name="Person", emails=[f"seed{i}@example.com"]
        )
    return state


def _serve_in_child(people: int, port_out: Connection, stop: Event) -> None:
    with SimulatorServer(seeded_state(people)) as server:
        port_out.send(server.base_url)
        stop.wait()


@contextmanager
def running_simulator(people: int, *, in_process: bool) -> Iterator[str]:
    """Yield the base URL of a seeded simulator, in this process or a child process."""
    if in_process:
        with SimulatorServer(seeded_state(people)) as server:
            yield server.base_url
        return
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    stop = context.Event()
    child = context.Process(target=_serve_in_child, args=(people, sender, stop), daemon=True)
    child.start()
    try:
        if not receiver.poll(60):
            raise RuntimeError("simulator process did not start")
        yield receiver.recv()
    finally:
        stop.set()
        child.join(10)


def worker(
    base_url: str, people: int, deadline: float, seed: int, samples: dict[str, list[float]]
) -> None:
    """Loop over the op mix until ``deadline``, recording latencies (s) per op in ``samples``."""
    rng = random.Random(seed)
    token = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    headers = {"X-API-Key": SERVICE_KEY, "Authorization": f"Token {token}"}
    with httpx.Client(base_url=f"{base_url}/v3.0/{FIRM}", headers=headers, timeout=10) as client:
        person_id = client.post("/people", json={"person": {"name": "Bench Worker"}}).json()[
            "person"
        ]["id"]
        ops: list[tuple[str, Callable[[], httpx.Response]]] = [
            (
                "search",
                lambda: client.get(
                    "/people_search",
                    params={"q": f"seed{rng.randrange(people)}@example.com", "limit": 10},
                ),
            ),
            (
                "create_person",
                lambda: client.post("/people", json={"person": {"name": "New Person"}}),
            ),
            (
                "create_note",
                lambda: client.post(
                    f"/people/{person_id}/notes",
                    json={"note": {"content": "<p>sent</p>", "category": "Email"}},
                ),
            ),
        ]
        weights = [5, 2, 3]
        while time.perf_counter() < deadline:
            name, call = rng.choices(ops, weights)[0]
            started = time.perf_counter()
            response = call()
            samples.setdefault(name, []).append(time.perf_counter() - started)
            if response.status_code >= 400:
                raise RuntimeError(f"{name}: {response.status_code} {response.text}")


def main() -> None:
    """Run the benchmark and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--people", type=int, default=1000, help="people seeded before the run")
    parser.add_argument("--in-process", action="store_true", help="server in this process")
    args = parser.parse_args()

    with running_simulator(args.people, in_process=args.in_process) as base_url:
        deadline = time.perf_counter() + args.seconds
        per_thread: list[dict[str, list[float]]] = [{} for _ in range(args.threads)]
        threads = [
            threading.Thread(
                target=worker, args=(base_url, args.people, deadline, seed, per_thread[seed])
            )
            for seed in range(args.threads)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    samples: dict[str, list[float]] = {}
    for part in per_thread:
        for name, values in part.items():
            samples.setdefault(name, []).extend(values)

    rows = []
    for name, values in sorted(samples.items()):
        values.sort()
        rows.append(
            {
                "op": name,
                "requests": len(values),
                "rps": round(len(values) / elapsed, 1),
                "p50_ms": round(statistics.median(values) * 1000, 2),
                "p95_ms": round(values[int(len(values) * 0.95) - 1] * 1000, 2),
            }
        )
    total = sum(row["requests"] for row in rows)
    print(f"{'op':<14}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p95 ms':>10}")
    for row in rows:
        print(
            f"{row['op']:<14}{row['requests']:>10}{row['rps']:>10}"
            f"{row['p50_ms']:>10}{row['p95_ms']:>10}"
        )
    print(f"{'total':<14}{total:>10}{round(total / elapsed, 1):>10}")
    print(
        json.dumps(
            {
                "benchmark": "simulator_rps",
                "seconds": round(elapsed, 2),
                "threads": args.threads,
                "seeded_people": args.people,
                "server": "in-process" if args.in_process else "child process",
                "total_requests": total,
                "requests_per_second": round(total / elapsed, 1),
                "ops": rows,
            }
        )
    )


if __name__ == "__main__":
    main()

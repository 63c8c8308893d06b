"""Ingest API throughput and latency, and the time from an accepted event to its note in Clockwork.

For each store (SQLite, and PostgreSQL when ``--postgres-url`` or ``CWSYNC_TEST_POSTGRES_URL`` is
set) the bench seeds a fresh store with one connected account, one sequence and ``--contacts``
enrolled contacts, starts ``cwsync serve`` (``--servers`` commands, each on its own port with
``--workers`` processes, clients spread over the ports; the rate limit lifted) and, for 1, 8 and 32 concurrent clients (asyncio, one
keep-alive connection each), posts single email events (``POST /v1/accounts/1/events``, a fresh
``Idempotency-Key`` each) for ``--seconds``. It reports events accepted per second, the p50 /
p95 / max latency of each request as the client saw it, the server processes' CPU time per
event accepted (from /proc: a figure that holds when other work shares the machine, where
events/s does not; the database server's own CPU is not in it), the clients' CPU per request
and the load average.

Then, on SQLite, the engine runs on its scheduler (``--interval`` seconds) against the simulator
on loopback (``--latency-ms`` per request) while ``--notes`` events are posted one at a time; for
each, the time from the API's answer to its note appearing in the simulator is measured.

    python bench/ingest.py [--seconds 5] [--contacts 2000] [--workers 1] [--clients 1,8,32]

Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.config import Settings
from sync_engine.engine.scheduler import start_engine
from sync_engine.ingest import credentials
from sync_engine.ingest.service import link_sequence
from sync_engine.runtime import Runtime, build_runtime
from sync_engine.services import accounts, enrollments

FIRM = "bench"
KEYS = {"api_key": "bench-api-key", "api_secret": "bench-secret", "firm_service_key": "bench-fsk"}
SEQUENCE = "bench-seq"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(url: str, key: str, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url, encryption_key=key, demo=False, allow_insecure_http=True, **extra,
    )  # fmt: skip


def seed(runtime: Runtime, simulator_url: str, contacts: int) -> tuple[int, str]:
    """One connected account, a sequence known as ``SEQUENCE``, ``contacts`` enrolled; returns
    the account id and a token."""
    with runtime.db.write() as session:
        account = accounts.create_account(session=session, name="Bench", actor="bench")
    assert account.id is not None
    accounts.connect(
        runtime, account_id=account.id, actor="bench",
        fields={"firm": FIRM, "base_url": simulator_url, **KEYS},
    )  # fmt: skip
    with runtime.db.write() as session:
        sequence = accounts.add_sequence(
            session=session, account_id=account.id, name="Bench", actor="bench",
        )  # fmt: skip
        assert sequence.id is not None
        link_sequence(session=session, account_id=account.id, ref=SEQUENCE, sequence_id=sequence.id)
        token = credentials.create_token(
            session=session, account_id=account.id, name="bench", actor="bench",
        ).token  # fmt: skip
    rows = ((i, {"email": f"c{i}@example.com"}) for i in range(contacts))
    enrollments.import_contacts(
        session_factory=runtime.db.write, sequence_id=sequence.id, rows=rows
    )
    return account.id, token


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes and their children so far (Linux /proc)."""
    total = 0
    for pid in _with_children(pids):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def _with_children(pids: list[int]) -> list[int]:
    """The processes and their running children (``cwsync serve --workers``'s processes)."""
    found = list(pids)
    for pid in pids:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        found += [int(child) for child in children.read_text().split()]
    return found


@dataclass
class Served:
    """The ``cwsync serve`` processes of a run."""

    urls: list[str]
    pids: list[int]


@contextmanager
def servers(url: str, key: str, count: int, workers: int = 1) -> Iterator[Served]:
    """``count`` ``cwsync serve`` processes on the store (each with ``workers`` processes on
    its port); yields their URLs and process ids."""
    env = {**os.environ, "CWSYNC_DATABASE_URL": url, "CWSYNC_ENCRYPTION_KEY": key,
           "CWSYNC_DEMO": "false"}  # fmt: skip
    processes, urls = [], []
    try:
        for _ in range(count):
            port = _free_port()
            command = [sys.executable, "-m", "sync_engine", "serve", "--port", str(port),
                       "--rate", "1000000", "--burst", "1000000", "--workers", str(workers)]  # fmt: skip
            processes.append(
                subprocess.Popen(
                    command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for base in urls:
            while True:
                try:
                    httpx.get(f"{base}/openapi.json", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("cwsync serve did not start") from None
                    time.sleep(0.1)
        yield Served(urls, [process.pid for process in processes])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)


class RawClient:
    """A bench client: HTTP/1.1 on one keep-alive connection over asyncio streams. The clients
    share the machine with the server; httpx's AsyncClient took 1.2 to 1.7 ms of CPU per request
    here (as much as half the server's own), this about a tenth of that."""

    def __init__(self, base: str, token: str) -> None:
        url = httpx.URL(base)
        self.host, self.port = url.host, url.port or 80
        self.token = token
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes, key: str) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``path``; the status and the answer's body."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    async def close(self) -> None:
        """Close the connection."""
        if self.streams is not None:
            self.streams[1].close()
            await self.streams[1].wait_closed()


async def _client(
    client: RawClient, account_id: int, contacts: int, stop_at: float,
    latencies: list[float], errors: list[int], offset: int, batch: int,
) -> int:  # fmt: skip
    """Post events until ``stop_at``: one per request, or ``batch`` per ``events/batch`` request;
    returns the events accepted."""
    accepted = 0
    i = offset
    while time.perf_counter() < stop_at:
        events = []
        for _ in range(batch):
            events.append({"kind": "opened", "sequence": SEQUENCE,
                           "email": f"c{i % contacts}@example.com"})  # fmt: skip
            i += 7919
        path, body = ("/events", events[0]) if batch == 1 else ("/events/batch", {"events": events})
        started = time.perf_counter()
        status, answer = await client.post(
            f"/v1/accounts/{account_id}{path}", json.dumps(body).encode(), uuid.uuid4().hex
        )
        elapsed = time.perf_counter() - started
        if status in (200, 201):
            latencies.append(elapsed)
            accepted += json.loads(answer).get("accepted", 1) if batch > 1 else 1
        else:
            errors.append(status)
    return accepted


async def load(
    served: Served, account_id: int, token: str, contacts: int, clients: int, seconds: float,
    batch: int = 1,
) -> dict[str, Any]:  # fmt: skip
    """``clients`` concurrent clients posting events for ``seconds``; their figures."""
    urls = served.urls
    latencies: list[float] = []
    errors: list[int] = []
    http = [RawClient(urls[n % len(urls)], token) for n in range(clients)]
    try:
        cpu_before = cpu_seconds(served.pids)
        client_cpu_before = time.process_time()
        started = time.perf_counter()
        stop_at = started + seconds
        accepted = await asyncio.gather(
            *(
                _client(http[n], account_id, contacts, stop_at, latencies, errors, n * 101, batch)
                for n in range(clients)
            )
        )
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - client_cpu_before
    finally:
        await asyncio.gather(*(client.close() for client in http))
    cpu = cpu_seconds(served.pids) - cpu_before
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    return {
        "clients": clients,
        "batch": batch,
        "accepted": sum(accepted),
        "errors": len(errors),
        "events_per_s": round(sum(accepted) / elapsed, 1),
        "p50_ms": round(pct(0.50), 1),
        "p95_ms": round(pct(0.95), 1),
        "max_ms": round(ordered[-1] * 1000, 1) if ordered else 0.0,
        "server_cpu_ms_per_event": round(cpu * 1000 / sum(accepted), 2) if sum(accepted) else None,
        "client_cpu_ms_per_request": round(client_cpu * 1000 / len(latencies), 2)
        if latencies
        else None,
        "load1": round(os.getloadavg()[0], 2),
    }


def note_latency(
    runtime: Runtime, sim: SimulatorServer, urls: list[str], account_id: int, token: str,
    notes: int,
) -> dict[str, Any]:  # fmt: skip
    """Engine on its scheduler; events posted one at a time; seconds until each note shows."""
    handle = start_engine(runtime)
    try:
        # The contacts are synced first (their person exists), as for a running account.
        deadline = time.monotonic() + 300
        while _pending(runtime) and time.monotonic() < deadline:
            time.sleep(0.5)
        waits: list[float] = []
        with httpx.Client(base_url=urls[0], headers={"Authorization": f"Bearer {token}"}) as client:
            for n in range(notes):
                subject = f"bench-note-{uuid.uuid4().hex[:10]}"
                body = {"kind": "replied" if n % 2 else "opened", "sequence": SEQUENCE,
                        "email": f"c{n}@example.com", "subject": subject}  # fmt: skip
                answer = client.post(f"/v1/accounts/{account_id}/events", json=body)
                accepted = time.perf_counter()
                assert answer.status_code == 201, answer.text
                while not _has_note(sim.state, subject):
                    if time.perf_counter() - accepted > 60:
                        raise RuntimeError(f"no note for {subject} after 60 s")
                    time.sleep(0.01)
                waits.append(time.perf_counter() - accepted)
                time.sleep(0.37)  # events arrive at different points of the interval
    finally:
        handle.shutdown(wait=True)
    return {
        "notes": len(waits),
        "p50_s": round(statistics.median(waits), 2),
        "max_s": round(max(waits), 2),
    }


def _pending(runtime: Runtime) -> int:
    with runtime.db.engine.connect() as connection:
        return int(
            connection.exec_driver_sql(
                "SELECT count(*) FROM enrollment WHERE status IN ('queued', 'retrying', 'syncing')"
            ).scalar_one()
        )


def _has_note(state: SimulatorState, subject: str) -> bool:
    return any(subject in note["content"] for note in state.snapshot(FIRM)["notes"])


@contextmanager
def postgres_store(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for the run, dropped after."""
    name = f"cwsync_bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def bench_store(
    label: str, url: str, args: argparse.Namespace, sim: SimulatorServer
) -> dict[str, Any]:
    """Seed, serve and load one store; on SQLite also the note latency."""
    key = Fernet.generate_key().decode()
    runtime = build_runtime(
        _settings(url, key, sync_interval_seconds=args.interval, default_max_rps=args.max_rps)
    )
    try:
        account_id, token = seed(runtime, sim.base_url, args.contacts)
        rows = []
        with servers(url, key, args.servers, args.workers) as served:
            asyncio.run(load(served, account_id, token, args.contacts, 4, 1.0))  # warm-up
            for clients in args.clients:
                row = asyncio.run(
                    load(served, account_id, token, args.contacts, clients, args.seconds,
                         args.batch)
                )  # fmt: skip
                rows.append(
                    {"store": label, "servers": args.servers, "workers": args.workers, **row}
                )
                print(_line(rows[-1]), flush=True)
            notes = (
                note_latency(runtime, sim, served.urls, account_id, token, args.notes)
                if args.notes and label == "sqlite"
                else None
            )
    finally:
        runtime.close()
    return {"rows": rows, "notes": notes}


def _line(row: dict[str, Any]) -> str:
    return (
        f"{row['store']:<10} {row['servers']:>7} {row['workers']:>7} {row['clients']:>7} "
        f"{row['batch']:>5} "
        f"{row['events_per_s']:>9} "
        f"{row['p50_ms']:>7} {row['p95_ms']:>7} {row['max_ms']:>8} {row['errors']:>6} "
        f"{row['server_cpu_ms_per_event']!s:>10} {row['client_cpu_ms_per_request']!s:>10} "
        f"{row['load1']:>6}"
    )


STORES = ("sqlite", "postgresql")


def _stores(given: str) -> list[str]:
    """``--stores``: known store names only (a typo would otherwise print an empty table)."""
    names = [name.strip() for name in given.split(",") if name.strip()]
    unknown = [name for name in names if name not in STORES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown store {', '.join(unknown) or '(none given)'}: choose from {', '.join(STORES)}"
        )
    return names


def main() -> None:
    """Run the bench and print its table and a JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--servers", type=int, default=1, help="cwsync serve commands")
    parser.add_argument("--workers", type=int, default=1, help="cwsync serve --workers")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--batch", type=int, default=1, help="events per request (events/batch)")
    parser.add_argument("--notes", type=int, default=10, help="0: skip the note latency")
    parser.add_argument("--interval", type=float, default=5.0, help="sync_interval_seconds")
    parser.add_argument("--latency-ms", type=float, default=80.0, help="simulator latency")
    parser.add_argument("--max-rps", type=float, default=10.0, help="the firm's pace")
    parser.add_argument("--postgres-url", default=os.environ.get("CWSYNC_TEST_POSTGRES_URL"))
    parser.add_argument(
        "--stores", default="sqlite,postgresql", type=_stores,
        help=f"comma-separated, of: {', '.join(STORES)}",
    )  # fmt: skip
    args = parser.parse_args()
    args.clients = [int(n) for n in args.clients.split(",")]
    state = SimulatorState()
    state.add_firm(FIRM, **KEYS)
    from clockwork_simulator import FaultConfig

    print(f"{'store':<10} {'servers':>7} {'workers':>7} {'clients':>7} {'batch':>5} {'events/s':>9} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'max ms':>8} {'errors':>6} {'cpu ms/ev':>10} {'client ms':>10} {'load1':>6}")  # fmt: skip
    results: dict[str, Any] = {}
    with (
        SimulatorServer(state, faults=FaultConfig(latency_ms=args.latency_ms)) as sim,
        tempfile.TemporaryDirectory() as tmp,
    ):
        stores = args.stores
        if "sqlite" in stores:
            results["sqlite"] = bench_store(
                "sqlite", f"sqlite:///{Path(tmp) / 'ingest.db'}", args, sim
            )
        if "postgresql" in stores and args.postgres_url:
            with postgres_store(args.postgres_url) as url:
                results["postgresql"] = bench_store("postgresql", url, args, sim)
        elif "postgresql" in stores:
            print("postgresql: skipped (no --postgres-url / CWSYNC_TEST_POSTGRES_URL)")
    notes = results.get("sqlite", {}).get("notes")
    if notes:
        print(
            f"accepted -> note in the simulator ({notes['notes']} events, scheduler interval "
            f"{args.interval:g} s, firm pace {args.max_rps:g} req/s, simulator latency "
            f"{args.latency_ms:g} ms): p50 {notes['p50_s']} s, max {notes['max_s']} s"
        )
    print(json.dumps({"args": {k: v for k, v in vars(args).items() if k != "postgres_url"},
                      "results": results}))  # fmt: skip


if __name__ == "__main__":
    main()

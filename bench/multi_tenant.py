"""Tenant isolation (issue 11, item 6): many firms on one engine, each with its own troubles.

One Clockwork simulator in its own process serves ``--firms`` healthy firms, each with its own
rate limit (``--rate`` req/s, never told to the engine: no ``--max-rps``) and ``--latency-ms``
per response, plus four troubled firms at the same latency:

- ``throttled``: a 1 req/s limit (``--throttled-rate``);
- ``dripping``: every answer sent one byte every ``--drip-interval`` seconds, headers included;
- ``revoked``: its API key is revoked once it has served a third of its requests (or at T/3);
- ``undecryptable``: its stored credentials are Fernet tokens of another key.

Every firm gets its own account (default settings), a sequence with the firm's first project and
``--contacts`` new contacts (a CSV imported through the service layer, as ``cwsync contact
import`` does). Then ``--processes`` ``cwsync sync --until-idle --timeout T`` processes run over
one store (SQLite, or with ``--pg`` a fresh PostgreSQL database); one still running at
T + 5 + ``--grace`` seconds is killed.

Per firm it prints its own bound (its successful requests ÷ its limit), its finish time (the
simulator's time of its last successful answer, from the engines' start), its 429 share and its
enrollments; then the healthy firms' efficiency (bound ÷ finish), the engines' CPU per
successful request, whether ``--timeout`` held, the exit codes, enrollments left ``syncing`` and
"processed twice" (enrollments with more than one successful sync attempt). A JSON line last.
The checkout's packages are byte-compiled first, as installing a wheel does (see
:func:`_compile_bytecode`).

    python bench/multi_tenant.py                       # 20 healthy firms, one process, SQLite
    python bench/multi_tenant.py --firms 60 --processes 3 --pg postgresql+psycopg://…/postgres
    python bench/multi_tenant.py --firms 60 --processes 3 --workers 8 --pg …   # one process the bottleneck
"""

from __future__ import annotations

import argparse
import compileall
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlmodel import col, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.postgres
from bench.engine_trace import timeline
from sync_engine.config import Settings
from sync_engine.models import ClockworkConnection, Enrollment, SyncAttempt
from sync_engine.runtime import Runtime, build_runtime
from sync_engine.services import accounts, contacts_csv, enrollments
from tests import loopback, postgres

TROUBLED = ("throttled", "dripping", "revoked", "undecryptable")


@dataclass
class Firm:
    """One simulated Clockwork firm and the account connected to it."""

    name: str
    kind: str  # "healthy" or one of TROUBLED
    rate: float
    account_id: int = 0
    before: dict[str, Any] = field(default_factory=dict)  # simulator answers before the run

    @property
    def keys(self) -> dict[str, str]:
        return {
            "api_key": f"{self.name}-key",
            "api_secret": f"{self.name}-secret",
            "firm_service_key": f"{self.name}-fsk",
        }


def _start_simulator(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The simulator in its own process (its CPU is not the engine's), no firm registered yet."""
    port = loopback.free_port()
    code = (
        "from clockwork_simulator import run_simulator; "
        f"run_simulator(port={port}, firms=(), log_level='warning')"
    )
    log = workdir / "simulator.log"
    with log.open("wb") as output:  # the child keeps its own handle
        process = subprocess.Popen([sys.executable, "-c", code], stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    loopback.wait_until_answering(f"{url}/_admin/health", process, seconds=30, log=log)
    return process, url


def _plan(args: argparse.Namespace) -> list[Firm]:
    firms = [Firm(f"healthy{i:02d}", "healthy", args.rate) for i in range(args.firms)]
    rates = {"throttled": args.throttled_rate}
    return firms + [Firm(kind, kind, rates.get(kind, args.rate)) for kind in TROUBLED]


def _seed(rt: Runtime, admin: httpx.Client, sim_url: str, firm: Firm, contacts: Path) -> None:
    """Register the firm, then its account, connection, sequence and contacts (CSV import)."""
    admin.post("/firms", json={"name": firm.name, **firm.keys}).raise_for_status()
    project = admin.get(f"/firms/{firm.name}/state").json()["projects"][0]["id"]
    with rt.db.write() as session:
        account = accounts.create_account(session=session, name=firm.name, actor="bench")
        assert account.id is not None
        firm.account_id = account.id
    fields = {"firm": firm.name, "base_url": sim_url, **firm.keys}
    accounts.connect(rt, account_id=firm.account_id, fields=fields, actor="bench")
    with rt.db.write() as session:
        sequence = accounts.add_sequence(
            session=session, account_id=firm.account_id, name=f"{firm.name} outreach",
            project_id=project, actor="bench",
        )  # fmt: skip
    assert sequence.id is not None
    _header, rows, _total = contacts_csv.read_contacts_csv(contacts)
    report = enrollments.import_contacts(
        session_factory=rt.db.write, sequence_id=sequence.id, rows=rows
    )
    assert not report.rejected, report.rejected


def _write_contacts(path: Path, count: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name", "last_name", "title", "company", "linkedin_url"])
        for i in range(count):
            writer.writerow([f"new{i}@contacts.example", "New", f"Contact{i}", "VP Sales",
                             "Initech", f"https://www.linkedin.com/in/new-contact-{i}"])  # fmt: skip


def _break_credentials(rt: Runtime, firm: Firm) -> None:
    """Overwrite the stored secrets with tokens of another Fernet key (a replaced key file)."""
    stranger = Fernet(Fernet.generate_key())
    with rt.db.write() as session:
        row = session.exec(
            select(ClockworkConnection).where(ClockworkConnection.account_id == firm.account_id)
        ).one()
        for column in ("api_key_token", "api_secret_token", "firm_service_key_token"):
            setattr(row, column, stranger.encrypt(b"from another key").decode())
        session.add(row)


def _set_faults(admin: httpx.Client, firms: list[Firm], args: argparse.Namespace) -> None:
    common = {"latency_ms": args.latency_ms}
    admin.put("/faults", json={**common, "rate_limit_rps": args.rate}).raise_for_status()
    own = {
        "throttled": {**common, "rate_limit_rps": args.throttled_rate},
        "dripping": {**common, "rate_limit_rps": args.rate, "drip_rate": 1.0,
                     "drip_interval_seconds": args.drip_interval},
    }  # fmt: skip
    for firm in firms:
        if firm.kind in own:
            admin.put(f"/firms/{firm.name}/faults", json=own[firm.kind]).raise_for_status()


def _revoke_midway(
    sim_url: str, firm: Firm, target: int, latest: float, out: dict[str, Any]
) -> None:
    """Revoke the firm's API key once it has served ``target`` requests, or at ``latest``."""
    started = time.monotonic()
    with httpx.Client(base_url=f"{sim_url}/_admin", timeout=5) as admin:
        while time.monotonic() < latest:
            served = admin.get(f"/firms/{firm.name}/answers").json()["ok"] - firm.before["ok"]
            if served >= target:
                break
            time.sleep(0.1)
        admin.post("/keys/revoke", json={"key": firm.keys["api_key"]}).raise_for_status()
        out["revoked_at"] = round(time.monotonic() - started, 2)


def _sync_command(timeout: float, trace: Path | None = None) -> list[str]:
    arguments = ["sync", "--until-idle", "--timeout", str(timeout)]
    if trace is None:
        return [sys.executable, "-m", "sync_engine", *arguments]
    return [
        sys.executable,
        str(Path(__file__).with_name("engine_trace.py")),
        str(trace),
        *arguments,
    ]


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, every core (``/proc/stat``)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / ticks, sum(fields[:8]) / ticks


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) one process has used so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle_cpu(workdir: Path, env: dict[str, str]) -> float:
    """CPU seconds of one engine process's start-up and an empty pass (a fresh SQLite store)."""
    idle = {**env, "CWSYNC_DATABASE_URL": f"sqlite:///{workdir / 'idle.db'}"}
    before = _cpu_of_children()
    subprocess.run(_sync_command(5), cwd=workdir, env=idle, capture_output=True, check=False)
    return _cpu_of_children() - before


def _run_engines(workdir: Path, env: dict[str, str], args: argparse.Namespace,
                 revoker: threading.Thread, simulator_pid: int) -> dict[str, Any]:  # fmt: skip
    """Start the engine processes, kill any still running at T + 5 + grace; CPU of theirs only,
    and the machine's and the simulator's over the same time (what one process leaves free)."""
    cpu_before = _cpu_of_children()
    machine_before, simulator_before = _machine_cpu(), _process_cpu(simulator_pid)
    started_wall, started = time.time(), time.monotonic()
    processes = []
    for i in range(args.processes):
        log = (workdir / f"engine-{i}.log").open("wb")
        command = _sync_command(args.timeout, workdir / f"trace-{i}.jsonl" if args.trace else None)
        processes.append(subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=log))
    revoker.start()
    ended: dict[int, float] = {}
    killed: list[int] = []
    kill_at = started + args.timeout + 5 + args.grace
    samples = [(0.0, *machine_before)]  # (seconds since start, busy, total): the machine's load
    while len(ended) < len(processes):
        if time.monotonic() - started - samples[-1][0] >= 0.5:
            samples.append((time.monotonic() - started, *_machine_cpu()))
        for i, process in enumerate(processes):
            if i not in ended and process.poll() is not None:
                ended[i] = time.monotonic() - started
        if time.monotonic() > kill_at:
            for i, process in enumerate(processes):
                if i not in ended:
                    killed.append(i)
                    process.kill()
                    process.wait()
                    ended[i] = time.monotonic() - started
        time.sleep(0.02)
    # Every engine process has been waited for; the simulator is still running (not counted).
    cpu = _cpu_of_children() - cpu_before
    machine_after, simulator_cpu = _machine_cpu(), _process_cpu(simulator_pid) - simulator_before
    elapsed = machine_after[1] - machine_before[1]
    tails = [(workdir / f"engine-{i}.log").read_text(errors="replace").strip().splitlines()[-2:]
             for i in range(len(processes))]  # fmt: skip
    return {
        "started_wall": started_wall,
        "wall_seconds": [round(ended[i], 2) for i in range(len(processes))],
        "exit_codes": [p.returncode for p in processes],
        "killed": killed,
        "cpu_seconds": cpu,
        "simulator_cpu_seconds": simulator_cpu,
        # Busy cores over the run, every process of the machine (engines, simulator, PostgreSQL).
        "machine_busy_cores": (machine_after[0] - machine_before[0])
        / elapsed
        * (os.cpu_count() or 1)
        if elapsed
        else 0.0,
        "machine_samples": samples,
        "idle_cpu_seconds": _idle_cpu(workdir, env),
        "log_tails": tails,
        "traces": [_read_trace(workdir / f"trace-{i}.jsonl") for i in range(len(processes))]
        if args.trace
        else None,
    }


def _read_trace(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    if keep := os.environ.get("CWSYNC_BENCH_KEEP_TRACES"):  # a directory, to look further
        shutil.copy(path, Path(keep) / path.name)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _store_figures(rt: Runtime) -> dict[str, Any]:
    with rt.db.read() as session:
        by_status = session.exec(
            select(Enrollment.account_id, Enrollment.status, func.count()).group_by(
                col(Enrollment.account_id), col(Enrollment.status)
            )
        ).all()
        twice = session.exec(
            select(SyncAttempt.enrollment_id)
            .where(SyncAttempt.outcome == "synced")
            .group_by(col(SyncAttempt.enrollment_id))
            .having(func.count() > 1)
        ).all()
        states = dict(session.exec(select(ClockworkConnection.account_id, ClockworkConnection.state)).all())  # fmt: skip
    statuses: dict[int, dict[str, int]] = {}
    for account_id, status, n in by_status:
        statuses.setdefault(account_id, {})[status] = n
    return {"statuses": statuses, "processed_twice": len(twice), "connections": states}


def _compile_bytecode() -> None:
    """Byte-compile the checkout's packages first, as installing a wheel does: where
    PYTHONDONTWRITEBYTECODE is set (this sandbox sets it) no ``.pyc`` is ever written, and every
    engine process would compile them from source again, a start-up cost an installed engine
    never pays (0.1-0.2 s per process here)."""
    checkout = Path(__file__).resolve().parents[1]
    for package in ("sync_engine", "clockwork_simulator"):
        compileall.compile_dir(checkout / package, quiet=1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Seed, run the engines, gather the figures."""
    _compile_bytecode()
    firms = _plan(args)
    with tempfile.TemporaryDirectory(prefix="cwsync-multi-tenant-") as tmp:
        workdir = Path(tmp)
        database, url = None, f"sqlite:///{workdir / 'store.db'}"
        if args.pg:
            database, url = postgres.create_database(args.pg, "cwsync_scale")
        key = Fernet.generate_key().decode()
        simulator = None
        try:
            simulator, sim_url = _start_simulator(workdir)
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                database_url=url,
                encryption_key=SecretStr(key),
                demo=False,
            )
            rt = build_runtime(settings)
            contacts = workdir / "contacts.csv"
            _write_contacts(contacts, args.contacts)
            with httpx.Client(base_url=f"{sim_url}/_admin", timeout=10) as admin:
                for firm in firms:
                    _seed(rt, admin, sim_url, firm, contacts)
                _break_credentials(rt, next(f for f in firms if f.kind == "undecryptable"))
                _set_faults(admin, firms, args)
                for firm in firms:
                    firm.before = admin.get(f"/firms/{firm.name}/answers").json()
                revoked = next(f for f in firms if f.kind == "revoked")
                revocation: dict[str, Any] = {}
                revoker = threading.Thread(
                    target=_revoke_midway, daemon=True,
                    args=(sim_url, revoked, 6 * args.contacts // 3,
                          time.monotonic() + args.timeout / 3, revocation),
                )  # fmt: skip
                env = {**os.environ, "CWSYNC_DATABASE_URL": url, "CWSYNC_ENCRYPTION_KEY": key,
                       "CWSYNC_DEMO": "false", "CWSYNC_API_CALL_LOG_RETENTION": "1000000"}  # fmt: skip
                if args.workers:
                    env["CWSYNC_WORKERS"] = str(args.workers)
                engines = _run_engines(workdir, env, args, revoker, simulator.pid)
                revoker.join(5)
                after = {f.name: admin.get(f"/firms/{f.name}/answers").json() for f in firms}
            store = _store_figures(rt)
            rt.close()
        finally:
            if simulator is not None:
                simulator.terminate()
                simulator.wait(10)
            if database:
                postgres.drop_database(args.pg, database)
    return _figures(args, firms, after, engines, store, revocation)


def _figures(args: argparse.Namespace, firms: list[Firm], after: dict[str, Any],
             engines: dict[str, Any], store: dict[str, Any], revocation: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    rows = []
    for firm in firms:
        now, then = after[firm.name], firm.before
        ok = now["ok"] - then["ok"]  # 2xx sent whole and on time (a dripped one is not)
        total = now["total"] - then["total"]
        throttled = now["statuses"].get("429", 0) - then["statuses"].get("429", 0)
        last = now["last_success_at"]
        finish = None
        if last and ok:
            finish = round(datetime.fromisoformat(last).timestamp() - engines["started_wall"], 2)
            finish = finish if finish > 0 else None
        bound = round(ok / firm.rate, 2)
        rows.append({
            "firm": firm.name, "kind": firm.kind, "limit": firm.rate, "requests": total,
            "ok": ok, "share_429": round(throttled / total, 4) if total else 0.0,
            "bound_seconds": bound, "finish_seconds": finish,
            "efficiency": round(bound / finish, 3) if finish else None,
            "enrollments": store["statuses"].get(firm.account_id, {}),
            "connection": store["connections"].get(firm.account_id),
        })  # fmt: skip
    healthy = [r["efficiency"] or 0.0 for r in rows if r["kind"] == "healthy"]
    healthy_ok = sum(r["ok"] for r in rows if r["kind"] == "healthy")
    healthy_done = max(
        (r["finish_seconds"] or 0.0 for r in rows if r["kind"] == "healthy"), default=0.0
    )
    samples = engines["machine_samples"]
    phase = [s for s in samples if s[0] <= healthy_done] or samples[:1]
    first, last = samples[0], phase[-1]
    phase_cores = (
        (last[1] - first[1]) / (last[2] - first[2]) * (os.cpu_count() or 1)
        if last[2] > first[2]
        else None
    )
    ok_total = sum(r["ok"] for r in rows)
    wall = max(engines["wall_seconds"])
    syncing = sum(r["enrollments"].get("syncing", 0) for r in rows)
    synced = sum(r["enrollments"].get("synced", 0) for r in rows)
    return {
        "firms": len(healthy), "processes": args.processes, "workers": args.workers, "store": "postgresql" if args.pg else "sqlite",
        "rate": args.rate, "latency_ms": args.latency_ms, "contacts": args.contacts, "timeout": args.timeout,
        "rows": rows,
        "healthy_efficiency_min": min(healthy) if healthy else None,
        "healthy_efficiency_median": round(statistics.median(healthy), 3) if healthy else None,
        "cpu_ms": round(engines["cpu_seconds"] * 1000),
        "cpu_ms_per_ok_request": round(engines["cpu_seconds"] * 1000 / ok_total, 3) if ok_total else None,
        "idle_cpu_ms": round(engines["idle_cpu_seconds"] * 1000),
        "cpu_ms_per_ok_request_warm": round(max(0.0, engines["cpu_seconds"] - args.processes * engines["idle_cpu_seconds"]) * 1000 / ok_total, 3) if ok_total else None,
        "ok_requests": ok_total, "wall_seconds": engines["wall_seconds"],
        "timeout_held": all(w <= args.timeout + 5 for w in engines["wall_seconds"]),
        "exit_codes": engines["exit_codes"], "killed": engines["killed"],
        "left_syncing": syncing, "synced": synced, "processed_twice": store["processed_twice"],
        "healthy_ok_requests_per_second": round(healthy_ok / healthy_done, 1) if healthy_done else None,
        "healthy_done_seconds": healthy_done,
        "healthy_limits_per_second": sum(r["limit"] for r in rows if r["kind"] == "healthy"),
        "machine_busy_cores_healthy_phase": round(phase_cores, 2) if phase_cores is not None else None,
        "machine_busy_cores_run": round(engines["machine_busy_cores"], 2),
        "simulator_cpu_ms_per_ok_request": round(engines["simulator_cpu_seconds"] * 1000 / ok_total, 3) if ok_total else None,
        "cores": os.cpu_count(),
        "ok_requests_per_second": round(ok_total / wall, 2), "synced_per_second": round(synced / wall, 2),
        "revoked_after_seconds": revocation.get("revoked_at"), "log_tails": engines["log_tails"],
        "timeline": timeline(engines["traces"], {f.account_id: f.name for f in firms},
                             engines["started_wall"]) if engines["traces"] else None,
    }  # fmt: skip


def _print(result: dict[str, Any]) -> None:
    r = result
    print(f"{r['firms']} healthy firms at {r['rate']:g} req/s (not told to the engine) + "
          f"{', '.join(TROUBLED)}; {r['contacts']} new contacts each; {r['latency_ms']:g} ms "
          f"latency; {r['processes']} engine process(es) on {r['store']}"
          + (f", {r['workers']} workers each" if r["workers"] else "")
          + f"; --timeout {r['timeout']:g}")  # fmt: skip
    print("firm | kind | limit | requests | 2xx | 429 share | bound s | finish s | bound/finish | "
          "enrollments | connection")  # fmt: skip
    for row in r["rows"]:
        states = " ".join(f"{k} {v}" for k, v in sorted(row["enrollments"].items()))
        print(f"{row['firm']} | {row['kind']} | {row['limit']:g} | {row['requests']} | {row['ok']} | "
              f"{row['share_429']:.1%} | {row['bound_seconds']} | {row['finish_seconds']} | "
              f"{row['efficiency']} | {states} | {row['connection']}")  # fmt: skip
    print(f"healthy firms' efficiency (bound ÷ finish): min {r['healthy_efficiency_min']}, "
          f"median {r['healthy_efficiency_median']}")  # fmt: skip
    throttled = next(row for row in r["rows"] if row["kind"] == "throttled")
    print(f"throttled firm: 429 on {throttled['share_429']:.1%} of its requests, moved at "
          f"{throttled['efficiency']} of its limit (bound ÷ finish)")  # fmt: skip
    print(f"revoked firm: key revoked {r['revoked_after_seconds']} s after the engines started")
    print(f"engine CPU: {r['cpu_ms']} ms user+sys over {r['processes']} process(es) = "
          f"{r['cpu_ms_per_ok_request']} ms per successful request ({r['ok_requests']} 2xx sent "
          f"whole, counted by the simulator); without start-up ≈ {r['cpu_ms_per_ok_request_warm']} "
          f"ms (an idle run, start-up + one empty pass on a fresh SQLite store, costs "
          f"{r['idle_cpu_ms']} ms per process). Measured with getrusage(RUSAGE_CHILDREN) around "
          "the engine processes only; the simulator runs in its own process, not counted")  # fmt: skip
    print(f"--timeout {r['timeout']:g} held (every process done by {r['timeout'] + 5:g} s): "
          f"{'yes' if r['timeout_held'] else 'NO'}; wall {r['wall_seconds']} s; exit codes "
          f"{r['exit_codes']}" + (f"; killed (SIGKILL): {r['killed']}" if r["killed"] else ""))  # fmt: skip
    print(f"enrollments left syncing: {r['left_syncing']}; synced {r['synced']}; "
          f"processed twice: {r['processed_twice']}")  # fmt: skip
    print(f"aggregate: {r['ok_requests_per_second']} successful req/s, {r['synced_per_second']} "
          "enrollments synced/s (over the slowest process's wall time)")  # fmt: skip
    print(f"healthy firms: {r['healthy_ok_requests_per_second']} successful req/s together, of "
          f"the {r['healthy_limits_per_second']:g} their limits allow (their 2xx ÷ the last one's "
          f"finish, {r['healthy_done_seconds']} s); the machine was "
          f"busy on {r['machine_busy_cores_healthy_phase']} of its {r['cores']} cores meanwhile "
          f"({r['machine_busy_cores_run']} over the whole run; every process: engines, simulator "
          f"at {r['simulator_cpu_ms_per_ok_request']} ms per successful request, PostgreSQL, "
          "anything else running)")  # fmt: skip
    for line in r.pop("timeline", None) or []:
        print(f"trace: {line}")
    for i, tail in enumerate(r["log_tails"]):
        print(f"engine {i} said: {' / '.join(line[:200] for line in tail) or '(nothing)'}")
    print(json.dumps(r))


def main() -> None:
    """Parse arguments, run once, print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--firms", type=int, default=20, help="healthy firms")
    parser.add_argument("--rate", type=float, default=10.0, help="each healthy firm's req/s")
    parser.add_argument("--throttled-rate", type=float, default=1.0)
    parser.add_argument("--drip-interval", type=float, default=2.0, help="seconds per byte")
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--contacts", type=int, default=20, help="new contacts per firm")
    parser.add_argument("--timeout", type=float, default=60.0, help="cwsync sync --timeout")
    parser.add_argument("--grace", type=float, default=30.0,
                        help="kill an engine still running this long after T + 5 s")  # fmt: skip
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--workers", type=int,
                        help="CWSYNC_WORKERS of each engine process (default: the engine's own)")  # fmt: skip
    parser.add_argument("--trace", action="store_true",
                        help="print each engine process's time line (bench/engine_trace.py)")  # fmt: skip
    parser.add_argument("--pg", help="PostgreSQL admin URL: a fresh database instead of SQLite")
    args = parser.parse_args()
    if args.processes > 1 and not args.pg:
        parser.error("several processes share a PostgreSQL store: give --pg ADMIN_URL")
    _print(run(args))


if __name__ == "__main__":
    main()

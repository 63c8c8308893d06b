"""Engine CPU per successful Clockwork request (issue 11), warm in this process or a whole process.

The simulator runs in its own process (its CPU is not counted), with no rate limit and no added
latency unless ``--latency-ms`` (a real Clockwork's delay before each answer). Each scenario seeds
a fresh store with ``firms`` accounts, each with a sequence on the firm's first project and
``contacts`` new contacts (6 requests each: search, create, email, position, LinkedIn URL,
candidacy), then runs the engine until idle. Successful requests are the 2xx the simulator
counted. CPU is user + system, every thread:

- by default one :class:`Engine` in this process, ``getrusage(RUSAGE_SELF)`` around
  ``run_until_idle`` only: no interpreter start-up, imports, migrations or seeding;
- with ``--process``, ``cwsync sync --until-idle`` in a process of its own, all of its CPU
  (``RUSAGE_CHILDREN``): interpreter start-up, imports and the store check included.

    python bench/engine_cpu.py                        # 1 firm x 200 contacts, 20 firms x 20
    python bench/engine_cpu.py --scenarios 20x20 --profile 25   # cProfile top 25, all threads
    python bench/engine_cpu.py --pg postgresql+psycopg://…/postgres   # on a PostgreSQL store
    python bench/engine_cpu.py --process --latency-ms 150   # a whole process, a real latency

``--unknown`` leaves the firms' limits untold (the adaptive pacer starts at the default pace);
by default each account is told ``--max-rps`` so the engine runs flat out.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlmodel import col, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: bench, tests
from bench.multi_tenant import (
    Firm,
    _compile_bytecode,
    _seed,
    _start_simulator,
    _sync_command,
    _write_contacts,
)
from sync_engine.config import Settings
from sync_engine.engine.passes import Engine
from sync_engine.models import Enrollment
from sync_engine.runtime import build_runtime
from sync_engine.services import accounts
from tests import postgres


def _cpu() -> tuple[float, float]:
    """User and system CPU seconds of this process, every thread."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


class _ThreadProfiles:
    """cProfile (CPU time per thread) in every thread that runs a claimed enrollment, and in the
    pass's thread."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def mine(self) -> cProfile.Profile:
        profile = getattr(self._local, "profile", None)
        if profile is None:
            profile = self._local.profile = cProfile.Profile(time.thread_time)
            with self._lock:
                self.profiles.append(profile)
        return profile

    def wrap(self, engine: Engine) -> None:
        original = engine._process_one

        def profiled(*args: Any) -> str:
            profile = self.mine()
            profile.enable()
            try:
                return original(*args)
            finally:
                profile.disable()

        engine._process_one = profiled  # type: ignore[method-assign,assignment]

    def report(self, top: int) -> str:
        out = io.StringIO()
        stats = pstats.Stats(self.profiles[0], stream=out)
        for profile in self.profiles[1:]:
            stats.add(profile)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        return out.getvalue()


def scenario(args: argparse.Namespace, firms: int, contacts: int) -> dict[str, Any]:
    """Seed ``firms`` x ``contacts``, run one engine until idle, return its CPU figures."""
    with tempfile.TemporaryDirectory(prefix="cwsync-engine-cpu-") as tmp:
        workdir = Path(tmp)
        database, url = None, f"sqlite:///{workdir / 'store.db'}"
        if args.pg:
            database, url = postgres.create_database(args.pg, "cwsync_cpu")
        simulator = None
        key = Fernet.generate_key().decode()
        try:
            simulator, sim_url = _start_simulator(workdir)
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                database_url=url,
                encryption_key=SecretStr(key),
                demo=False,
            )
            rt = build_runtime(settings)
            csv_path = workdir / "contacts.csv"
            _write_contacts(csv_path, contacts)
            plan = [Firm(f"cpu{i:02d}", "healthy", args.max_rps) for i in range(firms)]
            with httpx.Client(base_url=f"{sim_url}/_admin", timeout=10) as admin:
                for firm in plan:
                    _seed(rt, admin, sim_url, firm, csv_path)
                    if not args.unknown:
                        with rt.db.write() as session:
                            accounts.update_settings(
                                session=session, account_id=firm.account_id,
                                changes={"max_rps": args.max_rps}, actor="bench",
                            )  # fmt: skip
                if args.latency_ms:
                    admin.put("/faults", json={"latency_ms": args.latency_ms}).raise_for_status()
                before = sum(admin.get(f"/firms/{f.name}/answers").json()["ok"] for f in plan)
                profiles = _ThreadProfiles() if args.profile else None
                if args.process:  # the whole process: start-up included
                    rt.close()
                    cpu, system, wall, timed_out = _in_a_process(workdir, url, key, args.timeout)
                else:
                    engine = Engine(rt)
                    if profiles is not None:
                        profiles.wrap(engine)
                        profiles.mine().enable()
                    start, wall = _cpu(), time.perf_counter()
                    counts = engine.run_until_idle(timeout=args.timeout)
                    end, wall = _cpu(), time.perf_counter() - wall
                    system = end[1] - start[1]
                    cpu = end[0] - start[0] + system
                    timed_out = bool(counts.get("timed_out"))
                    if profiles is not None:
                        profiles.mine().disable()
                ok = sum(admin.get(f"/firms/{f.name}/answers").json()["ok"] for f in plan) - before
            with rt.db.read() as session:
                synced = session.exec(
                    select(func.count()).where(col(Enrollment.status) == "synced")
                ).one()
            rt.close()
        finally:
            if simulator is not None:
                simulator.terminate()
                simulator.wait(10)
            if database:
                postgres.drop_database(args.pg, database)
    result = {
        "firms": firms, "contacts_per_firm": contacts, "store": "postgresql" if args.pg else "sqlite",
        "told_max_rps": None if args.unknown else args.max_rps, "latency_ms": args.latency_ms,
        "ok_requests": ok, "synced": synced, "enrollments": firms * contacts,
        "cpu_seconds": round(cpu, 3), "system_cpu_seconds": round(system, 3),
        "wall_seconds": round(wall, 2),
        "cpu_ms_per_ok_request": round(cpu * 1000 / ok, 3) if ok else None,
        "ok_requests_per_second": round(ok / wall, 1) if wall else None,
        "timed_out": timed_out, "start_up_included": args.process,
    }  # fmt: skip
    if profiles is not None:
        result["profile"] = profiles.report(args.profile)
    return result


def _in_a_process(
    workdir: Path, url: str, key: str, timeout: float
) -> tuple[float, float, float, bool]:
    """``cwsync sync --until-idle`` in its own process: its CPU (user + system, then system),
    its wall time, and whether it timed out (exit 3)."""
    env = {**os.environ, "CWSYNC_DATABASE_URL": url, "CWSYNC_ENCRYPTION_KEY": key,
           "CWSYNC_DEMO": "false"}  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(_sync_command(timeout), cwd=workdir, env=env, capture_output=True)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 3):  # 3: timed out with work left, still a figure
        sys.exit(f"cwsync sync failed (exit {done.returncode}):\n{done.stderr.decode()[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    system = after.ru_stime - before.ru_stime
    return after.ru_utime - before.ru_utime + system, system, wall, done.returncode == 3


def main() -> None:
    """Run each scenario once and print its figures, then a JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scenarios", default="1x200,20x20",
                        help="comma-separated FIRMSxCONTACTS")  # fmt: skip
    parser.add_argument("--max-rps", type=float, default=500.0, help="each firm's told limit")
    parser.add_argument("--unknown", action="store_true", help="limits not told (adaptive)")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="the simulator's delay before each answer (default 0)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--profile", type=int, default=0, metavar="TOP",
                        help="cProfile every engine thread and print the TOP functions")  # fmt: skip
    parser.add_argument("--pg", help="PostgreSQL admin URL: a fresh database instead of SQLite")
    parser.add_argument("--process", action="store_true",
                        help="cwsync sync in its own process, start-up included")  # fmt: skip
    args = parser.parse_args()
    if args.process and args.profile:
        parser.error("--profile profiles this process's engine: not with --process")
    if args.process:
        _compile_bytecode()  # as an installed wheel is: no compiling on the process's clock
    results = []
    for spec in args.scenarios.split(","):
        firms, _, contacts = spec.partition("x")
        result = scenario(args, int(firms), int(contacts))
        results.append(result)
        if "profile" in result:
            print(result.pop("profile"))
        print(f"{result['firms']} firm(s) x {result['contacts_per_firm']} new contacts, "
              f"{result['latency_ms']:g} ms latency, {result['store']}: "
              f"{result['ok_requests']} successful requests in "
              f"{result['wall_seconds']} s ({result['ok_requests_per_second']}/s), engine CPU "
              f"{result['cpu_seconds']} s (system {result['system_cpu_seconds']} s) = "
              f"{result['cpu_ms_per_ok_request']} ms per successful "
              f"request{' (process start-up included)' if args.process else ''}; synced "
              f"{result['synced']}/{result['enrollments']}"
              + (" (TIMED OUT)" if result["timed_out"] else ""))  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()

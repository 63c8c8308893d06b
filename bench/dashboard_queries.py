"""Dashboard query latency and memory at 10k, 100k and 1M enrollments, on SQLite and PostgreSQL.

Measures every service-layer query the dashboard pages run (``sync_engine/services/queries/``,
plus ``audit.list_entries``, ``accounts.connection_summary`` and the CLI's ``status.py``), each
called exactly as a page calls it, through :meth:`Database.read` sessions, on generated data.
Targets (SPEC §7): p95 ≤ 200 ms at 1M enrollments on PostgreSQL, ≤ 300 ms on SQLite, and memory
that does not grow with table size (no full-table loads).

Run from a clone after ``pip install -e .``::

    python bench/dashboard_queries.py --pg postgresql+psycopg://cwsync:cwsync@127.0.0.1:5432/postgres
    python bench/dashboard_queries.py --sizes 10000,100000 --backends sqlite --repeats 5 --explain

For each backend and size, a fresh store is made (``bench/bulk_store.py``) and filled with
generated data (``bench/generated_data.py``: four accounts, one with 85% of the rows, over 30
days, with the statistics the app gathers at start-up); ``--skip-sqlite-analyze`` leaves SQLite
without statistics. The queries are those of ``bench/page_queries.py``.

They are timed in a fresh child process, so its memory figures are the query phase's
alone: one warm-up run, then ``--repeats`` runs each in its own session (as a page does), p50 and
p95 by linear interpolation. "last page" is the pager's last page of 50 (one click away);
"middle page" is the page in the middle, the deepest OFFSET there is, since the views read a page
past the middle from the oldest end. The full CSV export streams into a null sink. Memory: ``tracemalloc``
peak of Python allocations per query (one traced run each, after the timed runs), and the child's
RSS before the queries and its high-water mark after them. ``status.*`` rows are the CLI's
``status --json``, shown and measured apart from the dashboard. ``--explain`` prints the plan
(EXPLAIN QUERY PLAN / EXPLAIN (ANALYZE, BUFFERS)) of every statement of each query over target.

Prints a table per backend (query x size, p50 / p95 ms, ``!`` over target), a memory table, and
one JSON line at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: bench, tests
from bench.bulk_store import open_store, progress
from bench.generated_data import load
from bench.page_queries import Query, catalogue, result_size
from sync_engine.db import Database
from tests import postgres

TARGET_MS = {"sqlite": 300.0, "postgresql": 200.0}


# --- measuring (in a fresh child process) -----------------------------------------------------


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _proc_status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_mb() -> float:
    kb = _proc_status_kb("VmRSS")
    return (kb or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def _rss_peak_mb() -> float:
    kb = _proc_status_kb("VmHWM")
    return (kb or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def _reset_rss_peak() -> None:
    # Linux: writing 5 resets the high-water mark (VmHWM) to the current RSS.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class StatementLog:
    """The SQL each query sends, captured while ``current`` names a query (for --explain)."""

    def __init__(self, db: Database) -> None:
        self.current: str | None = None
        self.statements: dict[str, list[tuple[str, Any]]] = {}
        sa.event.listen(db.engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.current and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen = self.statements.setdefault(self.current, [])
            # Each distinct statement once, so a query of many partitions is not measured
            # holding every statement it sent.
            if all(statement != known for known, _ in seen):
                seen.append((statement, parameters))


def explain(db: Database, statement: str, parameters: Any) -> str:
    """The plan of one captured statement: EXPLAIN QUERY PLAN, or EXPLAIN (ANALYZE, BUFFERS)."""
    with db.engine.connect() as conn:
        if db.is_sqlite:
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            depth: dict[int, int] = {0: 0}
            lines = []
            for node, parent, _, detail in rows:
                depth[node] = depth.get(parent, 0) + 1
                lines.append("  " * depth[node] + detail)
        else:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
            lines = ["  " + row[0] for row in rows]
        conn.rollback()
    sql = " ".join(statement.split())
    return "\n".join([f"  SQL: {sql[:600]}{' …' if len(sql) > 600 else ''}", *lines])


def _run_once(db: Database, query: Query) -> tuple[float, Any]:
    with db.read() as session:
        started = time.perf_counter()
        result = query.run(session)
        elapsed = time.perf_counter() - started
    return elapsed * 1000, result


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """Time and trace every query on one loaded store; the child process's whole job."""
    backend, size, repeats = job["backend"], job["size"], job["repeats"]
    target = TARGET_MS[backend]
    db = Database(job["url"])
    statements = StatementLog(db)
    queries = catalogue(db, job["context"])
    dashboard = [query for query in queries if not query.cli]
    cli = [query for query in queries if query.cli]
    gc.collect()
    rss_start = _rss_mb()
    _reset_rss_peak()
    timings: dict[str, dict[str, Any]] = {}

    def time_queries(selection: list[Query]) -> None:
        for query in selection:
            _, result = _run_once(db, query)  # warm-up: connection, compiled-statement caches
            runs = min(repeats, query.max_runs or repeats)
            samples = [_run_once(db, query)[0] for _ in range(runs)]
            p50, p95 = _percentile(samples, 0.5), _percentile(samples, 0.95)
            over = query.has_target and p95 > target
            timings[query.name] = {
                "group": query.group,
                "query": query.name,
                "cli": query.cli,
                "p50_ms": round(p50, 2),
                "p95_ms": round(p95, 2),
                "runs": runs,
                "result": result_size(result),
                "over_target": over,
            }
            flag = "  OVER TARGET" if over else ""
            progress(f"    {query.name:<48} p50 {p50:9.1f} ms  p95 {p95:9.1f} ms{flag}")

    def trace_queries(selection: list[Query]) -> dict[str, float]:
        peaks: dict[str, float] = {}
        tracemalloc.start()
        for query in selection:
            gc.collect()
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            statements.current = query.name
            _run_once(db, query)
            statements.current = None
            peaks[query.name] = (tracemalloc.get_traced_memory()[1] - before) / 1024 / 1024
        tracemalloc.stop()
        return peaks

    progress(f"  timing {len(dashboard)} dashboard queries, {repeats} runs each")
    time_queries(dashboard)
    dashboard_peaks = trace_queries(dashboard)
    rss_peak = _rss_peak_mb()
    gc.collect()
    _reset_rss_peak()
    cli_rss_start = _rss_mb()
    time_queries(cli)
    cli_peaks = trace_queries(cli)
    cli_rss_peak = _rss_peak_mb()
    plans: dict[str, list[str]] = {}
    if job["explain"]:
        for name, timing in timings.items():
            if timing["over_target"]:
                plans[name] = [
                    explain(db, statement, parameters)
                    for statement, parameters in statements.statements.get(name, [])
                ]
    db.dispose()
    worst = max(dashboard_peaks, key=lambda name: dashboard_peaks[name])
    return {
        "backend": backend,
        "size": size,
        "timings": list(timings.values()),
        "memory": {
            "tracemalloc_peak_mb": round(dashboard_peaks[worst], 2),
            "tracemalloc_peak_query": worst,
            "export_full_peak_mb": round(dashboard_peaks["export csv full [status=failed]"], 2),
            "per_query_peak_mb": {name: round(mb, 3) for name, mb in dashboard_peaks.items()},
            "rss_start_mb": round(rss_start, 1),
            "rss_peak_mb": round(rss_peak, 1),
            "cli_peak_mb": {name: round(mb, 2) for name, mb in cli_peaks.items()},
            "cli_rss_start_mb": round(cli_rss_start, 1),
            "cli_rss_peak_mb": round(cli_rss_peak, 1),
        },
        "plans": plans,
    }


# --- orchestration and report -----------------------------------------------------------------


def run_one(
    backend: str,
    size: int,
    *,
    admin_url: str | None,
    workdir: Path,
    repeats: int,
    explain: bool,
    sqlite_analyze: bool = True,
) -> dict[str, Any]:
    """Load one store, measure it in a fresh process, remove it."""
    now = int(time.time()) // 60 * 60
    store = open_store(backend, admin_url=admin_url, workdir=workdir)
    try:
        progress(f"{backend}, {size:,} enrollments: generating")
        analyze = sqlite_analyze or backend != "sqlite"
        context, seconds = load(store, size=size, now=now, analyze=analyze)
        progress(f"  generated {sum(context['rows'].values()):,} rows in {seconds:.1f} s")
        job = {
            "backend": backend, "size": size, "url": store.url, "repeats": repeats,
            "explain": explain, "context": {**context, "now": now},
        }  # fmt: skip
        child = subprocess.run(
            [sys.executable, __file__, "--measure", json.dumps(job)],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        line = next(line for line in child.stdout.splitlines() if line.startswith("RESULT "))
        result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
        result["generation_s"] = round(seconds, 1)
        result["rows"] = context["rows"]
        result["analyzed"] = analyze
        return result
    finally:
        store.cleanup()


def _cell(timing: dict[str, Any] | None) -> str:
    if timing is None:
        return f"{'—':>19}"
    mark = "!" if timing["over_target"] else " "
    return f"{timing['p50_ms']:8.1f} /{timing['p95_ms']:8.1f}{mark}"


def report(results: list[dict[str, Any]]) -> str:
    """The tables: per backend, query x size (p50 / p95 ms); memory; generation."""
    out = io.StringIO()
    backends = list(dict.fromkeys(result["backend"] for result in results))
    for backend in backends:
        runs = sorted((r for r in results if r["backend"] == backend), key=lambda r: r["size"])
        names = list(dict.fromkeys(t["query"] for r in runs for t in r["timings"]))
        groups = {t["query"]: t["group"] for r in runs for t in r["timings"]}
        by_size = {r["size"]: {t["query"]: t for t in r["timings"]} for r in runs}
        width = max(len(f"{groups[n]}: {n}") for n in names)
        target = TARGET_MS[backend]
        stats = "" if all(r.get("analyzed", True) for r in runs) else " without ANALYZE"
        print(
            f"\n{backend}{stats}: p50 / p95 ms per query (target p95 <= {target:.0f} ms; ! = over)",
            file=out,
        )
        print(f"{'query':<{width}}" + "".join(f"{r['size']:>20,}" for r in runs), file=out)
        for name in names:
            cells = "".join(" " + _cell(by_size[r["size"]].get(name)) for r in runs)
            print(f"{f'{groups[name]}: {name}':<{width}}{cells}", file=out)
        largest = runs[-1]
        missing = [t["query"] for t in largest["timings"] if t["over_target"]]
        print(
            f"over target at {largest['size']:,}: {len(missing)} of {len(largest['timings'])}"
            + (f" ({', '.join(missing)})" if missing else ""),
            file=out,
        )
    print(
        "\nmemory of the query phase (fresh process per store; Python heap by tracemalloc)",
        file=out,
    )
    print(
        f"{'backend':<11}{'size':>11}{'heap peak MB':>14}  {'largest query':<42}"
        f"{'export MB':>10}{'RSS start':>11}{'RSS peak':>10}{'CLI status MB':>15}",
        file=out,
    )
    for result in results:
        memory = result["memory"]
        print(
            f"{result['backend']:<11}{result['size']:>11,}{memory['tracemalloc_peak_mb']:>14.2f}  "
            f"{memory['tracemalloc_peak_query'][:41]:<42}{memory['export_full_peak_mb']:>10.2f}"
            f"{memory['rss_start_mb']:>11.1f}{memory['rss_peak_mb']:>10.1f}"
            f"{max(memory['cli_peak_mb'].values()):>15.1f}",
            file=out,
        )
    print("\ndata generation", file=out)
    for result in results:
        print(
            f"{result['backend']:<11}{result['size']:>11,} enrollments: "
            f"{sum(result['rows'].values()):>10,} rows in {result['generation_s']:>6.1f} s",
            file=out,
        )
    return out.getvalue()


def source_revision() -> str:
    """The commit measured, marked ``+changes`` when ``sync_engine/`` differs from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "sync_engine"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if changed else "")


def source_digest() -> str:
    """A digest of ``sync_engine/``'s Python files, to notice an edit during a long run."""
    root = Path(__file__).resolve().parents[1] / "sync_engine"
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def main() -> None:
    """Parse options, run every backend x size, print the tables and a JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="enrollment counts")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--pg",
        default=os.environ.get("CWSYNC_TEST_POSTGRES_URL"),
        help="PostgreSQL admin URL (default: $CWSYNC_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--repeats", type=int, default=10, help="timed runs per query")
    parser.add_argument(
        "--explain", action="store_true", help="print the plans of queries over target"
    )
    parser.add_argument(
        "--skip-sqlite-analyze",
        action="store_true",
        help="leave SQLite without planner statistics (the app gathers them at start-up)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where SQLite files go")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print("RESULT " + json.dumps(measure(json.loads(args.measure))), flush=True)
        return
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size]
    backends = [backend.strip() for backend in args.backends.split(",") if backend.strip()]
    unknown = set(backends) - set(TARGET_MS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    if "postgresql" in backends and (problem := postgres.unreachable(args.pg)):
        progress(f"skipping postgresql: {problem}")
        backends.remove("postgresql")
    revision, digest = source_revision(), source_digest()
    results = []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="cwsync-bench-") as workdir:
        for backend in backends:
            for size in sizes:
                results.append(
                    run_one(
                        backend, size, admin_url=args.pg, workdir=Path(workdir),
                        repeats=args.repeats, explain=args.explain,
                        sqlite_analyze=not args.skip_sqlite_analyze,
                    )
                )  # fmt: skip
    if source_digest() != digest:
        progress(f"warning: sync_engine/ changed during the run (started at {revision})")
    plans = [(r, name, text) for r in results for name, text in r.pop("plans").items()]
    if plans:
        print("plans of queries over target")
        for result, name, texts in plans:
            print(f"\n[{result['backend']} {result['size']:,}] {name}")
            print("\n".join(texts))
    print(f"measured: {revision}")
    print(report(results))
    summary = {"bench": "dashboard_queries", "revision": revision, "targets_ms": TARGET_MS}
    print(json.dumps({**summary, "runs": results}))


if __name__ == "__main__":
    main()

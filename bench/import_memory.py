"""Peak memory (RSS) of `cwsync contact import` on a large CSV.

Writes a contacts CSV of about ``--megabytes`` MB (one row in 100 with a malformed email, as in
the 50,000-row reliability test), makes a scratch SQLite store with one account and sequence, and
runs the import as its own process. The child's peak RSS is read from the kernel (``wait4``), so
nothing in the measured process is instrumented. The same import of a one-row file gives the
fixed cost of the process (Python, SQLAlchemy, the migrations). Prints a table and a JSON line.

    python bench/import_memory.py [--megabytes 100] [--source CHECKOUT]

``--source`` runs the CLI from another checkout (e.g. a ``git worktree`` of an older commit), to
measure before and after a change with the same file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

HEADER = "email,first_name,last_name,title,company,linkedin_url\n"


def write_csv(path: Path, megabytes: float) -> int:
    """A contacts CSV of about ``megabytes`` MB; returns its row count."""
    target = int(megabytes * 1_000_000)
    written = rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        while written < target:
            chunk = []
            for i in range(rows, rows + 10_000):
                email = f"person{i}@example.com" if i % 100 else f"broken{i}.example.com"
                chunk.append(
                    f"{email},First{i},Last{i},Vice President Engineering,"
                    f"Company {i % 977} Holdings,https://linkedin.com/in/person-{i}\n"
                )
            text = "".join(chunk)
            out.write(text)
            written += len(text)
            rows += len(chunk)
    return rows


def cli(source: Path, env: dict[str, str], *args: str) -> tuple[str, str, float, float]:
    """Run ``python -m sync_engine ARGS`` from ``source``: stdout, stderr, seconds, peak RSS MB."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "sync_engine", *args], cwd=source, env=env, stdout=out,
            stderr=err,
        )  # fmt: skip
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode not in (0, 1):
        raise SystemExit(f"cwsync {' '.join(args)} exited {process.returncode}: {stderr[-500:]}")
    return stdout, stderr, seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=100.0)
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    source = args.source.resolve()
    with tempfile.TemporaryDirectory(prefix="cwsync-import-") as scratch:
        work = Path(scratch)
        env = {
            **os.environ,
            "PYTHONPATH": str(source),
            "CWSYNC_DATABASE_URL": f"sqlite:///{work / 'store.db'}",
            "CWSYNC_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        }
        cli(source, env, "account", "add", "Bench")
        sequence = cli(source, env, "sequence", "add", "Bench", "Import")[0].strip()
        big, small = work / "contacts.csv", work / "one.csv"
        rows = write_csv(big, args.megabytes)
        small.write_text(HEADER + "one@example.com,One,Row,,,\n", encoding="utf-8")
        *_, baseline = cli(source, env, "contact", "import", sequence, str(small))
        size_mb = big.stat().st_size / 1_000_000
        out, err, seconds, peak = cli(source, env, "contact", "import", sequence, str(big))
    result = {
        "source": str(source),
        "file_mb": round(size_mb, 1),
        "rows": rows,
        "imported": out.strip(),
        "problem_lines": sum(1 for line in err.splitlines() if line.startswith("line ")),
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak, 1),
        "one_row_peak_rss_mb": round(baseline, 1),
    }
    print(f"{'file':>10} {'rows':>10} {'seconds':>8} {'peak RSS':>10} {'1-row RSS':>10}")
    print(f"{size_mb:>8.0f}MB {rows:>10,} {seconds:>8.1f} {peak:>8.0f}MB {baseline:>8.0f}MB")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

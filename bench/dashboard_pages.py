"""Dashboard pages in a real browser: the median from a click to the finished script run of every
page, the first load of a session, and the whole-account CSV export (first byte, server memory).

Starts ``streamlit run dashboard/app.py`` on a store and drives Debian's chromium with Playwright
(1440x900, live refresh on, the sync scheduler running), at the demo size and on stores of
generated sizes made by ``bench/generated_data.py`` (the data ``bench/dashboard_queries.py``
measures too: four accounts, 85% of the enrollments in "Acme Talent"). Targets: every page
≤ 0.5 s median from the click, the first load of a session ≤ 1.5 s, the whole-account export's
first byte ≤ 2 s and server RSS growth ≤ 50 MB per export.

Run from a clone after ``pip install -e .``::

    python bench/dashboard_pages.py                                      # demo, then 1M SQLite
    python bench/dashboard_pages.py --sizes 1000000 --backends postgresql --pg ADMIN_URL
    python bench/dashboard_pages.py --sizes demo --repeats 3 --exports 2  # a quick look
    python bench/dashboard_pages.py --sizes 1000000 --keep                # reuse the 1M store

How it measures: a script in the page (installed before Streamlit loads) notes the time of the
pointer-down or Enter that starts an action and the first moment after it when Streamlit's
``data-test-script-state`` is ``notRunning`` and the page shows what the action leads to (the
page's title; on Contacts, a new "Showing … of …"); no sleeps, no polling in the timing. Each repeat clicks through every page in the sidebar in order, then, on Contacts, the
pager's last page and a search for ``@contoso.com``. "First load" is a new browser session
(navigation start to the Overview's finished run; outside demo mode, the sign-in click to it,
with "login form" from navigation start to the form), the first session after the server
started ("cold") apart. The export clicks "Export N as CSV" with every filter cleared and times
the browser's download event (the response's first bytes) and the complete file; the
Streamlit process's RSS is read from ``/proc`` before each export and after it has finished
(its peak sampled every 0.2 s in between).

Generated stores: a temporary SQLite file or a PostgreSQL database created from ``--pg`` and
dropped afterwards; with ``--keep`` they stay (SQLite under ``--workdir``, PostgreSQL as
``cwsync_pages_<size>``) and are reused by the next run. Outside demo mode the dashboard gets a
secrets file with one admin, whom the bench signs in as in every session. The generator's
connections hold credentials no key decrypts, so those accounts show as needing attention.

Prints the table (``!`` over target) and one JSON line. Timings on a shared machine are noisy:
the medians are of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: bench, tests
from bench.bulk_store import Store, progress
from bench.dashboard_queries import source_revision
from bench.generated_data import SEARCH_DOMAIN, load
from bench.page_queries import PAGE_SIZE
from sync_engine.services import auth
from tests import loopback, postgres

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1440, "height": 900}
TARGETS = {"page": 0.5, "first load": 1.5, "first byte": 2.0, "rss per export": 50.0}
USER, PASSWORD = "bench", "bench password, long enough"
DEMO = "demo"
PAGES = (
    "Overview", "Contacts", "Activity", "Sync log", "Integrations", "Sync settings", "Sequences",
    "Audit log",
)  # fmt: skip
SEARCH = SEARCH_DOMAIN
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
TIMEOUT_MS = 120_000

# Installed in every page before Streamlit's own scripts: the time of the action that starts a
# run, and the time the first finished run after it shows what ``ready`` looks for.
TIMER_JS = """
(() => {
  // Until the first action, the timer runs from navigation start (the first load).
  const b = window.__bench = {t0: 0, end: null, started: true, armed: false,
                              ready: () => __READY__};
  const idle = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && app.getAttribute('data-test-script-state') === 'notRunning';
  };
  const arm = () => {
    if (!b.armed) return;
    b.armed = false; b.started = true; b.t0 = performance.now(); b.end = null;
  };
  document.addEventListener('pointerdown', arm, true);
  document.addEventListener('keydown', (e) => { if (e.key === 'Enter') arm(); }, true);
  // Any change to the page: the run has ended once the script state is back to notRunning
  // and the page shows what the action leads to (a fast run may never show "running").
  new MutationObserver(() => {
    if (b.started && b.end === null && idle() && b.ready()) b.end = performance.now();
  }).observe(document, {subtree: true, childList: true, characterData: true, attributes: true,
                        attributeFilter: ['data-test-script-state']});
})();
"""


def heading(title: str) -> str:
    """A JS expression: the page titled ``title`` is on screen."""
    return (
        "[...document.querySelectorAll('h1')].some((h) => h.textContent.trim() === "
        f"{json.dumps(title)})"
    )


LOGIN_FORM = "document.querySelector('[data-testid=\"stForm\"]') !== null"


# --- the dashboard under test -------------------------------------------------------------------


@dataclass
class Target:
    """One dashboard to measure: its store, how to serve it, and what was found."""

    backend: str
    size: str  # "demo" or an enrollment count
    url: str | None = None  # the store (None: the demo's own SQLite file)
    cleanup: Callable[[], None] = lambda: None
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def demo(self) -> bool:
        return self.size == DEMO

    @property
    def label(self) -> str:
        size = DEMO if self.demo else f"{int(self.size):,}"
        return f"{size} ({self.backend})"


@contextmanager
def serve(target: Target, data: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``streamlit run dashboard/app.py`` over the target's store; yields its URL and process."""
    env = {
        **os.environ,
        "CWSYNC_DATA_DIR": str(data),
        "CWSYNC_DEMO": "true" if target.demo else "false",
    }
    for name in ("CWSYNC_ENCRYPTION_KEY", "CWSYNC_DATABASE_URL", "CWSYNC_SCHEDULER"):
        env.pop(name, None)
    args = []
    if target.url:
        env["CWSYNC_DATABASE_URL"] = target.url
    if not target.demo:
        # The generator's credentials are not encrypted with any key: a key of its own lets the
        # dashboard start, with those connections marked as needing attention.
        env["CWSYNC_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
        secrets = data / "secrets.toml"
        secrets.write_text(
            f'[users.{USER}]\npassword_hash = "{auth.hash_password(PASSWORD)}"\nrole = "admin"\n',
            encoding="utf-8",
        )
        args = ["--secrets.files", str(secrets)]
    port = loopback.free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        # No reloading when a source file changes under a run (a shared checkout): a reload
        # re-imports the models mid-run and the next page fails.
        "--server.fileWatcherType", "none", *args,
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with loopback.running(
        command, url=f"{url}/_stcore/health", log=data / "streamlit.log", seconds=120, cwd=ROOT,
        env=env,
    ) as process:  # fmt: skip
        yield url, process


def rss_mb(pid: int) -> float:
    """The resident set size of process ``pid`` (MB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PeakSampler:
    """The highest RSS of a process, sampled every 0.2 s while in use."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


# --- in the browser -----------------------------------------------------------------------------


def idle(page: Any) -> None:
    """Streamlit has finished its run and dropped the previous run's elements."""
    from playwright.sync_api import expect

    expect(page.locator(IDLE)).to_be_attached(timeout=TIMEOUT_MS)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=TIMEOUT_MS)


def timed(page: Any, action: Callable[[], None], ready: str) -> float:
    """Seconds from the pointer-down or Enter of ``action`` to the end of the first run after it
    for which the JS expression ``ready`` holds."""
    page.evaluate(
        "(ready) => { const b = window.__bench; b.ready = new Function('return ' + ready);"
        " b.end = null; b.started = false; b.armed = true; }",
        ready,
    )
    action()
    try:
        page.wait_for_function("() => window.__bench.end !== null", timeout=TIMEOUT_MS)
    except Exception as exc:
        state = page.evaluate(
            "() => JSON.stringify({...window.__bench, h1: [...document.querySelectorAll('h1')]"
            ".map((h) => h.textContent)})"
        )
        raise RuntimeError(f"no finished run showing {ready} after the action: {state}") from exc
    seconds = page.evaluate("() => (window.__bench.end - window.__bench.t0) / 1000")
    idle(page)
    return float(seconds)


def errors_on(page: Any) -> int:
    """How many exceptions the page shows."""
    return int(page.locator('[data-testid="stException"]').count())


def new_session(browser: Any, url: str, *, demo: bool) -> tuple[Any, Any, dict[str, float]]:
    """A new browser session on the dashboard, signed in; returns it, its tab and its timings."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.add_init_script(TIMER_JS.replace("__READY__", heading("Overview") if demo else LOGIN_FORM))
    page.goto(url)
    page.wait_for_function("() => window.__bench.end !== null", timeout=TIMEOUT_MS)
    loaded = float(page.evaluate("() => window.__bench.end / 1000"))
    idle(page)
    if demo:
        return context, page, {"first load": loaded}
    form = page.get_by_test_id("stForm")
    form.get_by_label("Username", exact=True).fill(USER)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    button = form.get_by_role("button", name="Sign in", exact=True)
    signed_in = timed(page, button.click, heading("Overview"))
    return context, page, {"login form": loaded, "first load": signed_in}


def open_page(page: Any, title: str) -> float:
    """Follow the sidebar link to ``title``; seconds from the click to its finished run."""
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True)
    return timed(page, link.click, heading(title))


CAPTIONS = (
    '[...document.querySelectorAll(\'[data-testid="stMain"] [data-testid="stCaptionContainer"]\')]'
    ".map((e) => e.innerText).join('|')"
)


def changed(page: Any) -> str:
    """A JS expression: the main area's captions (the pager's "Showing … of …") differ from
    now, i.e. the action's run has drawn its result."""
    return f"({CAPTIONS}) !== {json.dumps(page.evaluate(CAPTIONS))}"


def export_total(page: Any) -> int:
    """The row count on the Contacts page's export button."""
    label = page.get_by_role("button", name=re.compile(r"^Export [\d,]+ as CSV$")).inner_text()
    return int(re.sub(r"\D", "", label))


def last_page(page: Any) -> float | None:
    """Go to the pager's last page (a "Last" button, or the page number field); None when the
    view fits on one page."""
    pages = -(-export_total(page) // PAGE_SIZE)
    if pages <= 1:
        return None
    button = page.get_by_role("button", name=re.compile(r"^(Last|Last page)$"))
    ready = changed(page)
    if button.count():
        return timed(page, button.first.click, ready)
    field = page.get_by_label(re.compile(r"^Page")).first
    field.fill(str(pages))
    return timed(page, lambda: field.press("Enter"), ready)


def first_page(page: Any) -> None:
    """Back to the pager's first page (waiting for that run, like every action here)."""
    button = page.get_by_role("button", name=re.compile(r"^(First|First page)$"))
    ready = changed(page)
    if button.count():
        timed(page, button.first.click, ready)
        return
    field = page.get_by_label(re.compile(r"^Page")).first
    field.fill("1")
    timed(page, lambda: field.press("Enter"), ready)


def search(page: Any, term: str) -> float:
    """Type ``term`` in the Contacts search; seconds from Enter to the finished run."""
    box = page.get_by_role("textbox", name="Search", exact=True)
    ready = changed(page)
    box.fill(term)
    return timed(page, lambda: box.press("Enter"), ready)


def measure_pages(page: Any, *, demo: bool, repeats: int) -> dict[str, list[float]]:
    """Each repeat: every page in the sidebar in order, then the Contacts interactions."""
    titles = [*PAGES, "Demo controls"] if demo else list(PAGES)
    samples: dict[str, list[float]] = {}
    errors: set[str] = set()
    for repeat in range(repeats):
        for title in [*titles[1:], titles[0]]:  # the session starts on Overview
            samples.setdefault(title, []).append(open_page(page, title))
            if errors_on(page):
                errors.add(title)
        open_page(page, "Contacts")
        seconds = last_page(page)
        if seconds is not None:
            samples.setdefault("Contacts: last page", []).append(seconds)
            first_page(page)
        samples.setdefault(f"Contacts: search {SEARCH}", []).append(search(page, SEARCH))
        search(page, "")
        open_page(page, "Overview")
        progress(f"    repeat {repeat + 1}/{repeats} done")
    if errors:
        progress(f"    pages showing an exception: {', '.join(sorted(errors))}")
    samples["_errors"] = [float(len(errors))]
    return samples


def measure_exports(page: Any, pid: int, *, count: int, workdir: Path) -> list[dict[str, float]]:
    """Export the whole account ``count`` times; timings and the server's memory around each."""
    open_page(page, "Contacts")
    found = []
    for number in range(1, count + 1):
        total = export_total(page)
        button = page.get_by_role("button", name=f"Export {total:,} as CSV", exact=True)
        before = rss_mb(pid)
        with PeakSampler(pid) as peak:
            started = time.perf_counter()
            with page.expect_download(timeout=TIMEOUT_MS) as info:
                button.click()
            first_byte = time.perf_counter() - started
            download = info.value
            path = Path(download.path())  # waits for the whole file
            seconds = time.perf_counter() - started
            failure = download.failure()
            size = path.stat().st_size
            path.unlink()
            # The page's own report of the finished export (its progress stops polling).
            page.get_by_text(re.compile(r"Exported [\d,]+ contacts")).wait_for(timeout=TIMEOUT_MS)
            idle(page)
        after = rss_mb(pid)
        row = {
            "rows": total, "first_byte_s": round(first_byte, 3), "total_s": round(seconds, 1),
            "mb": round(size / 1e6, 3), "rss_before_mb": round(before), "rss_after_mb": round(after),
            "rss_peak_mb": round(peak.peak), "growth_mb": round(after - before, 1),
            "failed": failure or "",
        }  # fmt: skip
        found.append(row)
        progress(f"    export {number}/{count}: {row}")
    return found


def measure(target: Target, *, repeats: int, exports: int, sessions: int, workdir: Path) -> None:
    """Serve the target, then the first loads, the pages and the exports, in one process."""
    from playwright.sync_api import sync_playwright

    data = Path(tempfile.mkdtemp(prefix="dashboard-", dir=workdir))
    try:
        with serve(target, data) as (url, process), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            loads: dict[str, list[float]] = {}
            progress("  first loads")
            for number in range(sessions + 1):
                context, _page, timings = new_session(browser, url, demo=target.demo)
                context.close()
                for name, seconds in timings.items():
                    key = f"{name} (cold)" if number == 0 else name
                    loads.setdefault(key, []).append(seconds)
            context, page, _ = new_session(browser, url, demo=target.demo)
            try:
                progress(f"  pages, {repeats} repeats")
                samples = measure_pages(page, demo=target.demo, repeats=repeats)
                target.results["errors"] = int(samples.pop("_errors")[0])
                progress(f"  whole-account export, {exports} times")
                target.results["exports"] = measure_exports(
                    page, process.pid, count=exports, workdir=workdir
                )
            except Exception:
                shot = workdir / f"failed-{target.backend}-{target.size}.png"
                page.screenshot(path=shot, full_page=True)
                shutil.copy(data / "streamlit.log", shot.with_suffix(".log"))
                progress(f"  failed: the page is in {shot}, the server's log next to it")
                raise
            context.close()
            browser.close()
            target.results["loads"] = loads
            target.results["pages"] = samples
    finally:
        shutil.rmtree(data, ignore_errors=True)


# --- stores ---------------------------------------------------------------------------------------


def prepare(backend: str, size: str, *, admin_url: str | None, workdir: Path, keep: bool) -> Target:
    """The target's store: the demo's own, or a generated one (kept and reused with ``keep``)."""
    target = Target(backend, size)
    if target.demo:
        return target
    count = int(size)
    now = int(time.time()) // 60 * 60
    if backend == "sqlite":
        path = workdir / f"pages-{count}.db"
        target.url = f"sqlite:///{path}"
        if keep and path.exists():
            progress(f"{target.label}: reusing {path}")
            return target
        store = Store("sqlite", target.url, lambda: None)
        if not keep:
            target.cleanup = lambda: _remove_sqlite(path)
    else:
        assert admin_url is not None
        name = f"cwsync_pages_{count}"
        target.url = postgres.with_database(admin_url, name)
        if keep and postgres.database_exists(admin_url, name):
            progress(f"{target.label}: reusing database {name}")
            return target
        postgres.drop_database(admin_url, name)
        postgres.admin_sql(admin_url, f'CREATE DATABASE "{name}"')
        store = Store("postgresql", target.url, lambda: None)
        if not keep:
            target.cleanup = lambda: postgres.drop_database(admin_url, name)
    progress(f"{target.label}: generating")
    context, seconds = load(store, size=count, now=now)
    progress(f"  generated {sum(context['rows'].values()):,} rows in {seconds:.0f} s")
    return target


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# --- report ---------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _cell(value: float | None, target: float | None, unit: str = "s", digits: int = 2) -> str:
    if value is None:
        return "—"
    mark = " !" if target is not None and value > target else ""
    return f"{value:.{digits}f} {unit}{mark}"


def report(targets: list[Target], repeats: int) -> str:
    """The table of item 11: medians per page and target, the first loads and the export."""
    columns = [target.label for target in targets]
    rows: list[tuple[str, list[str]]] = []
    names = [*PAGES, "Demo controls"]
    for target in targets:
        names += [name for name in target.results.get("pages", {}) if name not in names]
    for name in names:
        cells = []
        for target in targets:
            values = target.results.get("pages", {}).get(name)
            cells.append(_cell(_median(values), TARGETS["page"]) if values else "—")
        rows.append((name, cells))
    for name in ("first load", "first load (cold)", "login form"):
        cells = []
        for target in targets:
            values = target.results.get("loads", {}).get(name)
            limit = TARGETS["first load"] if name == "first load" else None
            cells.append(_cell(_median(values), limit) if values else "—")
        rows.append((name, cells))
    export_rows: dict[str, list[str]] = {
        "export: rows / MB": [], "export: first byte": [], "export: whole file": [],
        "export: RSS growth per export": [], "export: RSS before first → after last (peak)": [],
    }  # fmt: skip
    for target in targets:
        found = target.results.get("exports") or []
        if not found:
            for cells in export_rows.values():
                cells.append("—")
            continue
        growth = [row["growth_mb"] for row in found]
        export_rows["export: rows / MB"].append(f"{found[0]['rows']:,} / {found[0]['mb']:,}")
        export_rows["export: first byte"].append(
            _cell(_median([row["first_byte_s"] for row in found]), TARGETS["first byte"])
        )
        export_rows["export: whole file"].append(
            _cell(_median([row["total_s"] for row in found]), None, digits=1)
        )
        export_rows["export: RSS growth per export"].append(
            _cell(max(growth), TARGETS["rss per export"], "MB", 1) + f" (max of {len(found)})"
        )
        export_rows["export: RSS before first → after last (peak)"].append(
            f"{found[0]['rss_before_mb']} → {found[-1]['rss_after_mb']} MB "
            f"({max(row['rss_peak_mb'] for row in found)})"
        )
    rows.extend(export_rows.items())
    width = max(len(name) for name, _ in rows)
    widths = [
        max(len(column), *(len(cells[i]) for _, cells in rows)) for i, column in enumerate(columns)
    ]
    header = [" " * width, *(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines = [
        f"median of {repeats} from the click to the finished script; targets: page ≤ "
        f"{TARGETS['page']} s, first load ≤ {TARGETS['first load']} s, export first byte ≤ "
        f"{TARGETS['first byte']} s, RSS growth ≤ {TARGETS['rss per export']:.0f} MB per export "
        "(! over target)",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["-" * width, *("-" * w for w in widths)]) + " |",
    ]
    for name, cells in rows:
        padded = [cell.ljust(w) for cell, w in zip(cells, widths, strict=True)]
        lines.append("| " + " | ".join([name.ljust(width), *padded]) + " |")
    for target in targets:
        if target.results.get("errors"):
            lines.append(f"{target.label}: {target.results['errors']} page(s) showed an exception")
    return "\n".join(lines)


def main() -> None:
    """Parse options, measure every backend x size, print the table and a JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="demo,1000000", help="'demo' and enrollment counts")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--pg",
        default=os.environ.get("CWSYNC_TEST_POSTGRES_URL"),
        help="PostgreSQL admin URL (default: $CWSYNC_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="clicks per page")
    parser.add_argument("--sessions", type=int, default=5, help="first loads (new sessions)")
    parser.add_argument("--exports", type=int, default=5, help="whole-account exports")
    parser.add_argument("--workdir", type=Path, default=None, help="where stores and data go")
    parser.add_argument("--keep", action="store_true", help="keep generated stores and reuse them")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        parser.error(f"chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    sizes = [size.strip().replace("_", "") for size in args.sizes.split(",") if size.strip()]
    backends = [backend.strip() for backend in args.backends.split(",") if backend.strip()]
    if "postgresql" in backends and (problem := postgres.unreachable(args.pg)):
        progress(f"skipping postgresql: {problem}")
        backends.remove("postgresql")
    plan = [
        (backend, size)
        for backend in backends
        for size in sizes
        if not (size == DEMO and backend != "sqlite")  # the demo runs on its own SQLite store
    ]
    workdir = args.workdir or Path(tempfile.gettempdir()) / "cwsync-dashboard-pages"
    workdir.mkdir(parents=True, exist_ok=True)
    revision = source_revision()
    targets = []
    for backend, size in plan:
        target = prepare(backend, size, admin_url=args.pg, workdir=workdir, keep=args.keep)
        try:
            progress(f"{target.label}: measuring")
            measure(
                target, repeats=args.repeats, exports=args.exports, sessions=args.sessions,
                workdir=workdir,
            )  # fmt: skip
        finally:
            target.cleanup()
        targets.append(target)
    print(f"measured: {revision}")
    print(report(targets, args.repeats))
    summary = {"bench": "dashboard_pages", "revision": revision, "targets": TARGETS}
    runs = [{"backend": t.backend, "size": t.size, **t.results} for t in targets]
    print(json.dumps({**summary, "runs": runs}))


if __name__ == "__main__":
    main()

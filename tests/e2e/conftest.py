"""Browser fixtures: ``streamlit run dashboard/app.py`` on a free port with a throwaway data
directory (demo mode, fast scheduler), and Playwright driving Debian's chromium.

Without chromium the e2e tests are skipped with the reason, unless ``CWSYNC_REQUIRE_BROWSER=1``
(set by CI), where a missing browser fails the run. Waits are on Streamlit's DOM state, never on
fixed sleeps; screenshots of each page land in ``test-artifacts/``.

Every test passes alone, in any module, and on any pytest-xdist worker: a tab a fixture hands
out already shows the dashboard, drawn (:func:`open_dashboard`), and a test that needs data of
its own (an account, a contact) makes it, rather than counting on an earlier test's.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

from tests import loopback

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
FIRST_DRAW_SECONDS = 60  # a fresh demo server's first run took 13 s at a load of 8


def idle(page: Page) -> None:
    """Wait until Streamlit has finished the script run and dropped the previous run's elements."""
    expect(page.locator(IDLE)).to_be_attached(timeout=30_000)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=30_000)


def scroll_to(locator: Locator, *, tries: int = 5) -> None:
    """Scroll ``locator`` into view. A live part of the page (a refreshing fragment) may redraw
    the element between finding it and scrolling to it ("not attached to the DOM"): find it
    again then."""
    for _ in range(tries - 1):
        try:
            locator.scroll_into_view_if_needed(timeout=10_000)
            return
        except PlaywrightError as exc:
            if "not attached" not in str(exc):
                raise
    locator.scroll_into_view_if_needed()


def open_expander(page: Page, label: str) -> Locator:
    """Open the expander ``label`` once the app is idle and return it once it has slid open (its
    animation takes 500 ms): a click inside one still opening was lost."""
    idle(page)
    expander = page.get_by_test_id("stExpander").filter(has=page.get_by_text(label, exact=True))
    expander.get_by_text(label, exact=True).click()
    expect(expander.get_by_test_id("stExpanderDetails")).to_be_visible()
    page.wait_for_function(
        "e => e.getAnimations({subtree: true}).length === 0", arg=expander.element_handle()
    )
    return expander


def open_dashboard(page: Page, url: str, *, heading: str = "Overview", text: str = "") -> None:
    """Load ``url`` in ``page`` (a new Streamlit session) and wait until its first run has drawn
    ``heading`` (or ``text``, when given) and finished: the first load of a fresh server draws
    nothing for seconds while its first run seeds the demo, longer than ``idle`` waits."""
    page.goto(url)
    drawn = (
        page.get_by_text(text) if text else page.get_by_role("heading", name=heading, exact=True)
    )
    expect(drawn).to_be_visible(timeout=FIRST_DRAW_SECONDS * 1000)
    idle(page)


def _require_browser() -> bool:
    return os.environ.get("CWSYNC_REQUIRE_BROWSER", "") not in ("", "0", "false")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in this folder is an ``e2e`` test."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium, or a skip (a failure when CI requires the browser)."""
    if not Path(CHROMIUM).exists():
        message = f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if _require_browser():
            pytest.fail(message + " but CWSYNC_REQUIRE_BROWSER is set")
        pytest.skip(message)
    return CHROMIUM


@contextmanager
def started(
    command: list[str], *, cwd: Path, env: dict[str, str], port: int, log: Path
) -> Iterator[str]:
    """``command`` (a dashboard on ``port``) run with ``env``, its output in ``log``; yields its
    base URL once ``/_stcore/health`` answers, and stops it after."""
    url = f"http://127.0.0.1:{port}"
    with loopback.running(
        command, url=f"{url}/_stcore/health", log=log, seconds=60, cwd=cwd, env=env
    ):
        yield url


@contextmanager
def serve(data: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    """``streamlit run dashboard/app.py`` on a free port with ``env``; yields its base URL."""
    port = loopback.free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
        "--server.port", str(port), "--server.headless", "true",
        "--browser.gatherUsageStats", "false", *args,
    ]  # fmt: skip
    try:
        with started(command, cwd=ROOT, env=env, port=port, log=data / "streamlit.log") as url:
            yield url
    finally:
        if os.environ.get("CWSYNC_KEEP_E2E_DATA"):
            shutil.copytree(data, ARTIFACTS / data.name, dirs_exist_ok=True)


def store_env(data: Path, **overrides: str) -> dict[str, str]:
    """The environment of a dashboard whose store, key and simulator state live in ``data``."""
    env = {
        **os.environ,
        "CWSYNC_DATABASE_URL": f"sqlite:///{data / 'cwsync.db'}",
        "CWSYNC_KEY_FILE": str(data / "secret.key"),
        "CWSYNC_SIMULATOR_STATE_FILE": str(data / "simulator.json"),
        "CWSYNC_SYNC_INTERVAL_SECONDS": "1",
        "CWSYNC_MAX_ATTEMPTS": "1",
        "CWSYNC_SIMULATOR_LATENCY_MS": "0",
        "CWSYNC_REFRESH_SECONDS": "2",
        **overrides,
    }
    env.pop("CWSYNC_ENCRYPTION_KEY", None)
    return env


@pytest.fixture(scope="session")
def dashboard_url(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard served by a real ``streamlit run`` in demo mode; its base URL."""
    data = tmp_path_factory.mktemp("e2e-data")
    with serve(data, store_env(data, CWSYNC_DEMO="true")) as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[object]:
    """One chromium per test module. Playwright's sync API keeps an event loop running in the
    main thread while it is open, so it must close before other suites use asyncio."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser: object, dashboard_url: str) -> Iterator[Page]:
    """One tab (one Streamlit session) shared by the tests of a module, in order; it shows
    Overview, drawn, before the module's first test, whichever test that is."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})  # type: ignore[attr-defined]
    context.set_default_timeout(20_000)
    tab = context.new_page()
    open_dashboard(tab, dashboard_url)
    yield tab
    context.close()


@pytest.fixture(scope="session", autouse=True)
def _artifacts() -> None:
    ARTIFACTS.mkdir(exist_ok=True)

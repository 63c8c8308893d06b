"""The CSV export's download (issue 13 item 11): a one-time token, streamed by a server of its
own as the rows are read, never built in memory; and the Contacts button that starts it."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dashboard import export_download
from dashboard.export_download import ExportServer, ExportState
from sync_engine.runtime import Runtime
from sync_engine.services.queries import contact_table, csv_export
from tests.dashboard.conftest import open_page
from tests.factories import enroll, make_account, make_sequence


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _account(runtime: Runtime, contacts: int) -> contact_table.EnrollmentFilter:
    account_id = make_account(runtime)
    sequence_id = make_sequence(runtime, account_id, "=VP Engineering")
    for number in range(contacts):
        enroll(runtime, sequence_id, f"person{number}@northwind.com", first_name=f"P{number}")
    return contact_table.EnrollmentFilter(account_id=account_id)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def exports(store: Runtime, clock: Clock) -> Iterator[ExportServer]:
    server = ExportServer(store.db.read, clock=clock).start()
    yield server
    server.stop()


def _get(server: ExportServer, token: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{server.port}/export/{token}", timeout=10)


def _ended(job: export_download.ExportJob) -> ExportState:
    """The job's state once the server thread has recorded its end (it does so right after the
    last chunk, which the client may have read first)."""
    deadline = time.monotonic() + 10
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.01)
    return job.state


def test_a_token_downloads_its_filtered_view_once_as_a_chunked_csv_attachment(
    store: Runtime, exports: ExportServer
) -> None:
    where = _account(store, 3)
    with store.db.read() as session:
        expected = "".join(csv_export.export_enrollments_csv(session=session, where=where))
    job = exports.issue(where, total=3, filename="contacts.csv")

    answer = _get(exports, job.token)

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"].startswith('attachment; filename="contacts.csv"')
    assert answer.headers["transfer-encoding"] == "chunked"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.text == expected
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [row["Email"] for row in rows] == [f"person{n}@northwind.com" for n in range(3)]
    assert rows[0]["Sequence"] == "'=VP Engineering"  # formulas stay neutralised
    assert _ended(job) == ExportState.DONE
    assert (job.rows, job.bytes_sent) == (3, len(answer.content))

    again = _get(exports, job.token)
    assert again.status_code == 410 and "already been used" in again.text


def test_unknown_tokens_and_other_paths_are_not_found(exports: ExportServer) -> None:
    assert _get(exports, "not-a-token").status_code == 404
    for path in ("/", "/export/", "/export/a/b", "/favicon.ico"):
        assert httpx.get(f"http://127.0.0.1:{exports.port}{path}").status_code == 404


def test_a_token_nobody_uses_expires_then_is_forgotten(
    store: Runtime, exports: ExportServer, clock: Clock
) -> None:
    job = exports.issue(_account(store, 1), total=1, filename="contacts.csv")
    clock.now += export_download.TOKEN_TTL + 1

    assert _get(exports, job.token).status_code == 410
    assert job.state == ExportState.EXPIRED and job.finished
    clock.now += export_download.KEEP_FINISHED + 1
    assert exports.job(job.token) is None
    assert _get(exports, job.token).status_code == 404


def test_rows_are_read_from_the_store_as_they_are_sent(
    store: Runtime, exports: ExportServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header leaves before any row is read, then one chunk of rows at a time: the export is
    never whole in memory, whatever its size."""
    monkeypatch.setattr(csv_export, "EXPORT_CHUNK_ROWS", 2)
    job = exports.issue(_account(store, 5), total=5, filename="contacts.csv")
    chunks = exports.chunks(job)

    header = next(chunks)
    assert header.decode().startswith("Enrollment ID,Email,") and job.rows == 0
    first = next(chunks)
    assert first.decode().count("@northwind.com") == 2 and job.rows == 2
    rest = list(chunks)
    assert len(rest) == 2 and job.rows == 5


def test_the_address_the_browser_downloads_from_is_the_host_it_knows(
    exports: ExportServer, store: Runtime
) -> None:
    job = exports.issue(_account(store, 0), total=0, filename="contacts.csv")
    assert exports.url(job, host="localhost") == (
        f"http://localhost:{exports.port}/export/{job.token}"
    )
    assert exports.url(job, host="::1").startswith(f"http://[::1]:{exports.port}/")


# --- on the Contacts page -----------------------------------------------------------------


def _export_button(app: Any) -> Any:
    found = [button for button in app.button if button.label.startswith("Export ")]
    assert len(found) == 1, [button.label for button in app.button]
    return found[0]


def test_the_export_button_starts_a_streamed_download_and_shows_its_outcome(
    store: Runtime,
) -> None:
    where = _account(store, 3)
    app = open_page("contacts", account_id=where.account_id)
    assert _export_button(app).label == "Export 3 as CSV"

    app = _export_button(app).click().run()

    assert not app.exception, [e.value for e in app.exception]
    frames = [node for node in app.get("iframe")]
    assert len(frames) == 1
    src = frames[0].proto.src
    assert "/export/" in src
    assert not _export_button(app).disabled  # a click during the download issues none (below)
    answer = httpx.get(src, timeout=10)
    assert answer.status_code == 200 and answer.text.count("@northwind.com") == 3
    job = export_download.server().job(src.rsplit("/", 1)[-1])
    assert job is not None and _ended(job) == ExportState.DONE

    app = app.run()
    assert "Exported 3 contacts" in " ".join(c.value for c in app.caption)
    assert not app.get("iframe") and not _export_button(app).disabled


def test_a_click_while_the_sessions_export_is_under_way_issues_no_second_one(
    store: Runtime,
) -> None:
    """The button stays enabled during an export (enabling it again when the download ends
    would take a rerun of the whole page); a second click says so and issues nothing."""
    where = _account(store, 3)
    app = _export_button(open_page("contacts", account_id=where.account_id)).click().run()
    token = app.session_state[export_download.JOB_KEY]

    app = _export_button(app).click().run()

    assert not app.exception, [e.value for e in app.exception]
    assert app.session_state[export_download.JOB_KEY] == token
    assert [toast.value for toast in app.toast] == [
        "An export is already under way. Export again once it has finished."
    ]
    job = export_download.server().job(token)
    assert job is not None and job.state == ExportState.WAITING

"""The CSV export's download (B9), streamed to the browser by a small HTTP server in this process.

Streamlit serves a ``download_button``'s file from memory and keeps it for the session, so a
large account's file would be built whole before its first byte and held by the server. Here a
click issues an :class:`ExportJob` under a one-time token; the browser fetches
``/export/<token>`` from an :class:`ExportServer` listening on the dashboard's own address (an
ephemeral port), which sends the header at once and then the rows 1,000 at a time as the store
yields them. Nothing is built in memory or on disk, and the page shows the job's progress
while the browser shows the download's.

A token works once, for the filtered view it was issued for, within ``TOKEN_TTL`` seconds; it
is only issued to a signed-in session (the export holds no credential: viewers may export).
"""

from __future__ import annotations

import atexit
import http.server
import logging
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import streamlit as st

from dashboard import process
from dashboard.plain_text import plain
from sync_engine.services.queries import contact_table, csv_export
from sync_engine.services.wording import plural

if TYPE_CHECKING:
    from sqlmodel import Session

logger = logging.getLogger(__name__)

TOKEN_TTL = 60.0  # seconds a token waits for its download
KEEP_FINISHED = 600.0  # seconds a finished job's outcome stays readable by its page
SEND_TIMEOUT = 60.0  # a client that takes nothing for this long loses its download
LINK_AFTER = 3.0  # seconds before a link is offered in case the download did not start
JOB_KEY = "_export_token"

ReadSession = Callable[[], AbstractContextManager["Session"]]


class ExportState(StrEnum):
    """Where a download is: issued, sending, or over (and how)."""

    WAITING = "waiting"
    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the browser stopped taking the file
    EXPIRED = "expired"  # nobody came for it within TOKEN_TTL


FINISHED = frozenset(
    {ExportState.DONE, ExportState.FAILED, ExportState.CANCELLED, ExportState.EXPIRED}
)


@dataclass
class ExportJob:
    """One export: the filtered view it is for and, as it is sent, how far it has got."""

    token: str
    where: contact_table.EnrollmentFilter
    total: int
    filename: str
    issued_at: float
    project_names: dict[str, str] = field(default_factory=dict, repr=False)  # id → name
    state: ExportState = ExportState.WAITING
    rows: int = 0
    bytes_sent: int = 0
    error: str | None = None
    finished_at: float | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        """Whether the download is over, well or not."""
        return self.state in FINISHED


class ExportServer:
    """Serves each issued export once, streamed, at ``/export/<token>``.

    ``read`` opens a read session on the store (``Database.read``); ``clock`` is monotonic
    seconds. The server runs in daemon threads, one per download.
    """

    def __init__(
        self,
        read: ReadSession,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._clock = clock
        self._jobs: dict[str, ExportJob] = {}
        self._lock = threading.Lock()
        self._http = _HTTPServer((host, port), _Handler, exports=self)
        if tls is not None:
            self._http.socket = tls.wrap_socket(
                self._http.socket, server_side=True, do_handshake_on_connect=False
            )
        self.scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="csv-export-server", daemon=True
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._http.server_address[1])

    def start(self) -> ExportServer:
        """Start serving in a daemon thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (downloads under way end with their connections)."""
        self._http.shutdown()
        self._http.server_close()

    def issue(
        self,
        where: contact_table.EnrollmentFilter,
        *,
        total: int,
        filename: str,
        project_names: dict[str, str] | None = None,
    ) -> ExportJob:
        """A new export of ``where`` (``total`` rows expected), waiting for its download;
        ``project_names`` (id → name, from the firm) name each project next to its id."""
        job = ExportJob(
            token=secrets.token_urlsafe(32),
            where=where,
            total=total,
            filename=filename,
            issued_at=self._clock(),
            project_names=dict(project_names or {}),
        )
        with self._lock:
            self._prune()
            self._jobs[job.token] = job
        return job

    def job(self, token: str) -> ExportJob | None:
        """The export issued under ``token``, while it is remembered."""
        with self._lock:
            self._prune()
            return self._jobs.get(token)

    def url(self, job: ExportJob, *, host: str) -> str:
        """Where the browser downloads ``job``: this server, on the host the browser knows."""
        if ":" in host:  # an IPv6 address
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}/export/{job.token}"

    def waited(self, job: ExportJob) -> float:
        """Seconds since ``job`` was issued."""
        return self._clock() - job.issued_at

    def claim(self, token: str) -> ExportJob | None:
        """The job for ``token`` if it is still waiting, now sending (a token works once)."""
        with self._lock:
            self._prune()
            job = self._jobs.get(token)
            if job is None or job.state != ExportState.WAITING:
                return None
            job.state = ExportState.SENDING
            return job

    def chunks(self, job: ExportJob) -> Iterator[bytes]:
        """The CSV of ``job`` as UTF-8 chunks, read from the store as they are sent."""

        def advance(rows: int) -> None:
            job.rows = rows

        with self._read() as session:
            for text in csv_export.export_enrollments_csv(
                session=session, where=job.where, progress=advance, project_names=job.project_names
            ):
                yield text.encode("utf-8")

    def finish(self, job: ExportJob, state: ExportState, error: str | None = None) -> None:
        """Record how the download of ``job`` ended."""
        job.state, job.error, job.finished_at = state, error, self._clock()

    def _prune(self) -> None:
        """Expire tokens nobody came for and forget old outcomes (the lock is held)."""
        now = self._clock()
        for token, job in list(self._jobs.items()):
            if job.state == ExportState.WAITING and now - job.issued_at > TOKEN_TTL:
                job.state, job.finished_at = ExportState.EXPIRED, now
            if job.finished_at is not None and now - job.finished_at > KEEP_FINISHED:
                del self._jobs[token]


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, *, exports: ExportServer) -> None:
        self.exports = exports
        super().__init__(address, handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    """``GET /export/<token>``: the CSV, chunked; anything else: 404 or 410."""

    protocol_version = "HTTP/1.1"
    server_version = "cwsync-export"
    sys_version = ""
    timeout = SEND_TIMEOUT
    server: _HTTPServer

    def do_GET(self) -> None:
        """Stream the export the token names, once."""
        token = self.path.removeprefix("/export/")
        exports = self.server.exports
        job = exports.claim(token) if token != self.path and "/" not in token else None
        if job is None:
            gone = token != self.path and exports.job(token) is not None
            self._refuse(410 if gone else 404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Content-Disposition", _attachment(job.filename))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for data in exports.chunks(job):
                job.bytes_sent += len(data)
                self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the browser went away or stopped reading (TimeoutError is one)
            exports.finish(job, ExportState.CANCELLED)
        except Exception as exc:
            # Without the last chunk the browser marks the file as failed, not complete.
            logger.exception("CSV export failed")
            exports.finish(job, ExportState.FAILED, str(exc).splitlines()[0] if str(exc) else "")
        else:
            exports.finish(job, ExportState.DONE)

    def _refuse(self, status: int) -> None:
        body = (
            b"This export link has already been used or has expired. Export again from the "
            b"Contacts page.\n"
            if status == 410
            else b"Not found.\n"
        )
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Nothing on stderr: a request line holds its token."""


def _attachment(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=utf-8''{quote(filename, safe='')}"


# --- in the dashboard -------------------------------------------------------------------------


def _tls() -> ssl.SSLContext | None:
    """The dashboard's own certificate, when it is served over HTTPS (the export must be too)."""
    cert, key = st.get_option("server.sslCertFile"), st.get_option("server.sslKeyFile")
    if not cert or not key:
        return None
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    return tls


@st.cache_resource(show_spinner=False, on_release=ExportServer.stop)
def server() -> ExportServer:
    """This process's export server, on the address the dashboard listens on (started once)."""
    exports = ExportServer(
        process.runtime().db.read, host=st.get_option("server.address") or "", tls=_tls()
    ).start()
    atexit.register(exports.stop)
    return exports


def start(
    where: contact_table.EnrollmentFilter,
    *,
    total: int,
    filename: str,
    project_names: dict[str, str] | None = None,
) -> None:
    """Issue an export of ``where`` for this browser session; the next render starts it. While
    the session's export is still under way a click issues none: the button is not disabled
    meanwhile, as enabling it again when the download ends would take a rerun of the page."""
    if busy():
        st.toast(
            "An export is already under way. Export again once it has finished.",
            icon=":material/hourglass_top:",
        )
        return
    job = server().issue(where, total=total, filename=filename, project_names=project_names)
    st.session_state[JOB_KEY] = job.token
    st.session_state[JOB_KEY + "_new"] = True


def current() -> ExportJob | None:
    """This session's latest export, while the server remembers it."""
    token = st.session_state.get(JOB_KEY)
    return server().job(token) if isinstance(token, str) else None


def busy() -> bool:
    """Whether this session's export is waiting or being sent."""
    job = current()
    return job is not None and not job.finished


def show() -> None:
    """Start a just-issued download (a hidden frame fetches it) and show the export's progress,
    refreshed every second, then its outcome."""
    job = current()
    if job is None:
        return
    if st.session_state.pop(JOB_KEY + "_new", False):
        st.iframe(_download_url(job), height=1)
    if job.finished:
        _outcome(job)
    else:
        st.fragment(_progress, run_every=1)()


def _download_url(job: ExportJob) -> str:
    host = urlsplit(st.context.url or "").hostname or "127.0.0.1"
    return server().url(job, host=host)


def _progress() -> None:
    """The export's progress, then in its place the outcome. Never a rerun of the whole page:
    one asked for on a timer can undo a page link clicked meanwhile (Streamlit can start the
    rerun a script asks for after the clicked page's run, and the later start picks the page)."""
    job = current()
    if job is None:
        return
    if job.finished:
        _outcome(job)  # the page's next run stops the polling
        return
    if job.state == ExportState.WAITING:
        st.caption("Starting the download…")
        if server().waited(job) > LINK_AFTER:
            st.link_button(
                "The download did not start? Download the CSV", _download_url(job),
                icon=":material/download:",
            )  # fmt: skip
        return
    share = min(1.0, job.rows / job.total) if job.total else 1.0
    st.progress(
        share,
        text=f"Exporting: {job.rows:,} of {plural(job.total, 'contact')}, "
        f"{job.bytes_sent / 1_000_000:,.1f} MB sent",
    )


def _outcome(job: ExportJob) -> None:
    megabytes = f"{job.bytes_sent / 1_000_000:,.1f} MB"
    if job.state == ExportState.DONE:
        st.caption(f":material/check_circle: Exported {plural(job.rows, 'contact')} ({megabytes}).")
    elif job.state == ExportState.CANCELLED:
        st.caption(f"The download stopped after {plural(job.rows, 'contact')} ({megabytes}).")
    elif job.state == ExportState.EXPIRED:
        st.caption("The download did not start. Export again.")
    else:
        reason = plain(job.error) if job.error else "see the server log"
        st.error(f"The export failed: {reason}.", icon=":material/error:")

"""Serving the ingest API: :class:`IngestServer` in a background thread (tests, the bench, the
dashboard's demo) and :func:`run_ingest` in the foreground (``cwsync serve``).

Both bind to loopback unless told otherwise and parse HTTP with httptools on uvloop. uvicorn's
access log stays off: an adapter's URL may carry its token in the query string, and nothing here
logs a secret.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterable

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sync_engine.ingest.app import IngestConfig, create_app
from sync_engine.runtime import Runtime
from uvicorn_thread import ServedInThread, StartsAndStops, bind, serve_in_thread

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost`` or a loopback address)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


MAX_HEAD_BYTES = 16_384
"""A request's line and headers, together: h11's default cap, which httptools does not have."""


class _HeadCappedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing (400, closed) a request whose head passes
    ``MAX_HEAD_BYTES``: httptools would keep buffering headers as long as they come."""

    _in_head = True
    _head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self.send_400_response("Request line and headers too large.")

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        super().on_message_complete()


def _uvicorn_config(app: FastAPI, **options: object) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        server_header=False,
        http=_HeadCappedHttpTools,  # C parsing: h11 took more CPU per event than the store work
        loop="uvloop",
        **options,  # type: ignore[arg-type]
    )


class IngestServer(StartsAndStops):
    """The ingest API served by uvicorn in a background thread; ``port=0`` picks a free port."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        config: IngestConfig | None = None,
    ) -> None:
        self._runtime = runtime
        self._config = config
        self._host = host
        self._requested_port = port
        self._served: ServedInThread | None = None
        self._app: FastAPI | None = None

    @property
    def base_url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:54321`` (routes under ``/v1``)."""
        if self._served is None:
            raise RuntimeError("the ingest server is not started")
        return self._served.base_url

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once connections are accepted."""
        if self._served is not None:
            raise RuntimeError("the ingest server is already started")
        app = create_app(self._runtime, self._config)
        self._served = serve_in_thread(
            _uvicorn_config(app, log_level="warning"),
            host=self._host,
            port=self._requested_port,
            what="the ingest server",
            thread_name="ingest-api",
            timeout=timeout,
        )
        self._app = app

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        served, self._served = self._served, None
        if served is None:
            return
        served.stop(timeout)
        if self._app is not None:
            self._app.state.ingest.close()
            self._app = None


def run_ingest(
    runtime: Runtime, *, host: str, port: int, config: IngestConfig | None = None,
    workers: int = 1,
) -> int:  # fmt: skip
    """Serve in the foreground until interrupted (Ctrl-C or SIGTERM); 0 then. With ``workers``
    > 1, that many processes serve the one socket, each with its own connections and rate
    limits: 1 when a worker died (the others are stopped)."""
    sock = bind(host, port)
    if workers <= 1:
        _serve(runtime, sock, config)
        return 0
    runtime.db.dispose()  # no pooled connection may be shared across fork
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            code = 1
            try:
                _serve(runtime, sock, config, parent=os.getppid())
                code = 0
            finally:
                os._exit(code)
        children.append(pid)
    sock.close()
    return _supervise(children)


def _serve(
    runtime: Runtime, sock: socket.socket, config: IngestConfig | None, *, parent: int | None = None
) -> None:
    """Serve on ``sock``; a worker (``parent``: its supervisor's pid) also stops when its
    supervisor is gone (killed outright, it could not pass the stop on)."""
    app = create_app(runtime, config)
    server = uvicorn.Server(_uvicorn_config(app, log_level="info"))
    if parent is not None:
        threading.Thread(
            target=_stop_when_orphaned, args=(server, parent), name="ingest-parent", daemon=True
        ).start()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    finally:
        app.state.ingest.close()


def _stop_when_orphaned(server: uvicorn.Server, parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    logger.error("the ingest supervisor %s is gone: this worker stops", parent)
    server.should_exit = True


def _supervise(children: list[int]) -> int:
    """Wait for the worker processes: a stop asked of this one (SIGINT, SIGTERM) is passed on
    to them; a worker that dies on its own stops the others."""
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        _signal_all(children, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = 0
        running = set(children)
        while running:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            running.discard(pid)
            if not stopping:
                code = 1
                logger.error(
                    "ingest worker %s stopped (status %s): stopping the others", pid, status
                )
                stopping = True
                _signal_all(running, signal.SIGTERM)
        return code
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _signal_all(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

"""Serving the ingest API: :class:`IngestServer` in a background thread (tests, the bench, the
dashboard's demo) and :func:`run_ingest` in the foreground (``cwsync serve``).

Both bind to loopback unless told otherwise. uvicorn's access log stays off: an adapter's URL may
carry its token in the query string, and nothing here logs a secret.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from fastapi import FastAPI

from sync_engine.ingest.app import IngestConfig, create_app
from sync_engine.runtime import Runtime


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost`` or a loopback address)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted sockets (no Nagle + delayed-ACK stalls).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _uvicorn_config(app: FastAPI, **options: object) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        server_header=False,
        **options,  # type: ignore[arg-type]
    )


class IngestServer:
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
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._app: FastAPI | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:54321`` (routes under ``/v1``)."""
        if self._port is None:
            raise RuntimeError("the ingest server is not started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once connections are accepted."""
        if self._server is not None:
            raise RuntimeError("the ingest server is already started")
        sock = _bind(self._host, self._requested_port)
        port = sock.getsockname()[1]
        app = create_app(self._runtime, self._config)
        server = uvicorn.Server(_uvicorn_config(app, log_level="warning"))
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"ingest-api-{port}", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                sock.close()
                raise RuntimeError("the ingest server failed to start")
            if time.monotonic() > deadline:
                server.should_exit = True
                raise TimeoutError(f"the ingest server did not start within {timeout}s")
            time.sleep(0.005)
        self._server, self._thread, self._port = server, thread, port
        self._app = app

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._server = self._thread = None
        self._port = None
        if self._app is not None:
            self._app.state.ingest.close()
            self._app = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def run_ingest(
    runtime: Runtime, *, host: str, port: int, config: IngestConfig | None = None
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C)."""
    app = create_app(runtime, config)
    server = uvicorn.Server(_uvicorn_config(app, host=host, port=port, log_level="info"))
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
    finally:
        app.state.ingest.close()

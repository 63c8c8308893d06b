"""uvicorn serving an ASGI app in a daemon thread, on a socket bound before the thread starts
(``port=0``: a free port, known at once). The Clockwork simulator and the ingest API both serve
this way and must not import each other, so this package imports nothing of ours."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import uvicorn

__all__ = ["ServedInThread", "bind", "serve_in_thread"]


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not listening yet; uvicorn listens on it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on accepted sockets whose proto is
    # TCP, and without it Nagle and delayed ACKs add ~40 ms to every response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class ServedInThread:
    """A uvicorn server running in its own daemon thread."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def base_url(self) -> str:
        """``http://host:port`` (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving (the requests in flight get uvicorn's graceful shutdown, then are cut)
        and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)


def serve_in_thread(
    config: uvicorn.Config,
    *,
    host: str,
    port: int,
    what: str,
    thread_name: str,
    timeout: float = 10.0,
) -> ServedInThread:
    """Serve ``config``'s app on ``host:port`` in a daemon thread named ``thread_name-<port>``;
    returns once connections are accepted. ``what`` names the server in the errors
    (``RuntimeError`` when it dies while starting, ``TimeoutError`` when it is too slow)."""
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"{thread_name}-{bound}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError(f"{what} failed to start")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"{what} did not start within {timeout}s")
        time.sleep(0.005)
    return ServedInThread(server, thread, host, bound)


class StartsAndStops:
    """``with`` support for a server that has ``start()`` and ``stop()``: started on entry,
    stopped on exit whatever happened inside."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

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

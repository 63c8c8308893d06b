"""An overall deadline for each HTTP request: connect, send and the whole response, not per read.

httpx's timeouts bound each socket operation, so a server that drips its answer one byte every
few seconds never times out. :func:`deadline_transport` builds httpx's own transport over a
network backend whose streams cut every connect, read and write to what is left of the deadline
set with :func:`request_deadline` around the request; past it, httpcore's own timeout exceptions
are raised, so httpx reports them as it reports any timeout.

The deadline is a context variable: the sync client sends each request in its caller's thread,
so concurrent requests on one client each keep their own.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from ssl import SSLContext
from typing import Any

import httpcore
import httpx

_DEADLINE: ContextVar[float | None] = ContextVar("clockwork_request_deadline", default=None)


@contextmanager
def request_deadline(at: float) -> Iterator[None]:
    """Within this block, network operations end by ``at`` (``time.monotonic()`` seconds)."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("the request's overall deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, bounded, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def deadline_transport(**options: Any) -> httpx.HTTPTransport:
    """httpx's transport (``options`` as for ``httpx.HTTPTransport``) honouring request deadlines.

    httpx takes no network backend argument, so the backend of the connection pool it built is
    swapped for ours (httpx < 1 is pinned; a test fails if this stops taking effect).
    """
    transport = httpx.HTTPTransport(**options)
    pool = transport._pool
    if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("this httpx/httpcore version does not expose its network backend")
    pool._network_backend = _DeadlineBackend()
    return transport

"""Dripping a whole HTTP response onto the socket, status line and headers included.

An ASGI app cannot pace the status line and headers: the server writes them. So the simulator's
server runs uvicorn with `DrippingH11Protocol`, whose transport holds back what a dripped
response writes and lets it out one byte every interval. The app asks for it with
`drip_this_response` from inside the task that sends the response (uvicorn runs each request in
its own task and writes to the socket from the app's ``send``, so a context variable reaches the
write). A client's per-read timeout never fires on such an answer; only an overall deadline ends
it. Other servers ignore the request (the answer is then sent at once).
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DrippingH11Protocol", "drip_this_response"]

_DRIP_INTERVAL: ContextVar[float] = ContextVar("clockwork_simulator_drip_interval", default=0.0)


def drip_this_response(interval: float) -> None:
    """Make every byte the current request's response writes from now on drip, ``interval`` s apart."""
    _DRIP_INTERVAL.set(interval)


class _DrippingTransport:
    """Wraps a connection's transport: writes pass through, unless a drip is asked for or running.

    Bytes of a dripped response queue up and leave one at a time (the first at once); anything
    written behind them waits its turn, and a close waits until the queue is empty. When the
    peer goes away the queue is dropped.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending = bytearray()
        self._interval = 0.0
        self._timer: asyncio.Handle | None = None
        self._close_when_drained = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        interval = _DRIP_INTERVAL.get()
        if not interval and not self._pending:
            self._transport.write(data)
            return
        if interval:
            self._interval = interval
        self._pending += data
        if self._timer is None:
            self._timer = self._loop.call_soon(self._drip_one)

    def close(self) -> None:
        if self._pending:
            self._close_when_drained = True
        else:
            self._transport.close()

    def stop_dripping(self) -> None:
        """If a drip is running, drop what is still queued and close (server shutdown)."""
        if not self._pending:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()
        self._transport.close()

    def _drip_one(self) -> None:
        self._timer = None
        if self._transport.is_closing():
            self._pending.clear()
            return
        self._transport.write(bytes(self._pending[:1]))
        del self._pending[:1]
        if self._pending:
            self._timer = self._loop.call_later(self._interval, self._drip_one)
        elif self._close_when_drained:
            self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class DrippingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol over a `_DrippingTransport` (``uvicorn.Config(http=...)``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        dripping = _DrippingTransport(transport, asyncio.get_running_loop())
        super().connection_made(dripping)  # type: ignore[arg-type]

    def shutdown(self) -> None:
        transport: Any = self.transport
        if isinstance(transport, _DrippingTransport):
            transport.stop_dripping()
        super().shutdown()

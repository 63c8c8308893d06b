"""The simulator behind `httpx.MockTransport`: the same handler as the server, no socket.

For fast unit tests. Faults map to what a client would see on a real socket: 429 and 5xx are
answered as responses, a drop raises `httpx.RemoteProtocolError`, a slow response raises
`httpx.ReadTimeout` (after the write was applied, as on the server); latency is not slept. A
dripped response comes back at once with its status and headers, then its body streams one byte
per chunk with a real sleep of the drip interval before each byte after the first (``time.sleep``
for `httpx.Client`, ``asyncio.sleep`` for `httpx.AsyncClient`), so a client's overall deadline,
checked between chunks or enforced around the read, can be tested without a socket.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx

from clockwork_simulator.core import SimRequest, Simulator
from clockwork_simulator.faults import FaultConfig, FaultInjector
from clockwork_simulator.state import SimulatorState

__all__ = ["mock_transport"]


class _DrippedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that yields one byte at a time, ``interval`` seconds apart."""

    def __init__(self, content: bytes, interval: float) -> None:
        self._content = content
        self._interval = interval

    def __iter__(self) -> Iterator[bytes]:
        for index in range(len(self._content)):
            if index:
                time.sleep(self._interval)
            yield self._content[index : index + 1]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for index in range(len(self._content)):
            if index:
                await asyncio.sleep(self._interval)
            yield self._content[index : index + 1]


def mock_transport(
    state: SimulatorState, faults: FaultConfig | FaultInjector | None = None
) -> httpx.MockTransport:
    """An `httpx.MockTransport` serving the Clockwork contract over ``state``.

    Pass a `FaultInjector` instead of a `FaultConfig` to change faults while a test runs.
    Works with both `httpx.Client` and `httpx.AsyncClient`; the request's host is ignored.
    """
    injector = faults if isinstance(faults, FaultInjector) else FaultInjector(faults)
    simulator = Simulator(state, injector)

    def handle(request: httpx.Request) -> httpx.Response:
        answer = simulator.handle(
            SimRequest(
                method=request.method,
                path=request.url.path,
                query=dict(request.url.params),
                headers={name.lower(): value for name, value in request.headers.items()},
                body=request.read(),
            )
        )
        if answer.fault.drop:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body "
                "(simulator: injected drop)",
                request=request,
            )
        if answer.fault.slow:
            raise httpx.ReadTimeout("simulator: injected slow response", request=request)
        headers = {**answer.headers, "Content-Type": "application/json"}
        if answer.fault.drip:
            content = answer.content()
            headers["Content-Length"] = str(len(content))
            body = _DrippedBody(content, answer.fault.drip)
            return httpx.Response(answer.status, headers=headers, stream=body)
        return httpx.Response(answer.status, headers=headers, content=answer.content())

    return httpx.MockTransport(handle)

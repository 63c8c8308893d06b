"""The simulator behind `httpx.MockTransport`: the same handler as the server, no socket.

For fast unit tests. Faults map to what a client would see on a real socket: 429 and 5xx are
answered as responses, a drop raises `httpx.RemoteProtocolError`, a slow response raises
`httpx.ReadTimeout` (after the write was applied, as on the server); latency is not slept.
"""

from __future__ import annotations

import httpx

from sync_engine.clockwork.simulator.core import SimRequest, Simulator
from sync_engine.clockwork.simulator.faults import FaultConfig, FaultInjector
from sync_engine.clockwork.simulator.state import SimulatorState

__all__ = ["mock_transport"]


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
        return httpx.Response(
            answer.status,
            headers={**answer.headers, "Content-Type": "application/json"},
            content=answer.content(),
        )

    return httpx.MockTransport(handle)

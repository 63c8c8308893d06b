"""uvicorn in a daemon thread (the simulator's and the ingest API's server): serves on the port it
bound, stops its thread, and says when the app cannot start."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
import uvicorn

from uvicorn_thread import bind, serve_in_thread


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def _broken_startup(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no"})


def _config(app: Any, *, lifespan: str = "off") -> uvicorn.Config:
    return uvicorn.Config(app, log_config=None, log_level="critical", lifespan=lifespan)


def test_serves_on_a_free_port_until_stopped() -> None:
    served = serve_in_thread(
        _config(_hello), host="127.0.0.1", port=0, what="the test server", thread_name="test"
    )
    try:
        assert served.port > 0 and served.thread.name == f"test-{served.port}"
        assert httpx.get(served.base_url).text == "hello"
    finally:
        served.stop()
    assert not served.thread.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(served.base_url)


# uvicorn ends a failed start with sys.exit(3), in the server's thread: Python ignores it there.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_app_that_cannot_start_is_an_error_naming_the_server() -> None:
    with pytest.raises(RuntimeError, match="the test server failed to start"):
        serve_in_thread(
            _config(_broken_startup, lifespan="on"),
            host="127.0.0.1",
            port=0,
            what="the test server",
            thread_name="test",
        )


def test_a_port_in_use_is_refused_when_bound() -> None:
    taken = bind("127.0.0.1", 0)
    taken.listen()
    try:
        with pytest.raises(OSError):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_an_ipv6_host_is_bracketed_in_the_url() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        served = serve_in_thread(
            _config(_hello), host="::1", port=0, what="the test server", thread_name="test"
        )
    except OSError:
        pytest.skip("::1 cannot be bound here")
    try:
        assert served.base_url == f"http://[::1]:{served.port}"
        assert httpx.get(served.base_url).text == "hello"
    finally:
        served.stop()

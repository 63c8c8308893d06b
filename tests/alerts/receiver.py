"""A webhook receiver on a real loopback socket for the alert tests: it records every request, can
answer an error status, and can be taken down and brought back on the same port."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests import loopback


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() of its arrival

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """``with Receiver() as r: r.url`` — up until :meth:`down`, back with :meth:`up`."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or loopback.free_port()
        self.received: list[Received] = []
        self.status = 200
        self.body = b"ok"
        self.arrived = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/alerts-path-secret"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver.arrived:
                    if receiver.status < 300:
                        receiver.received.append(
                            Received(
                                self.path,
                                {k.lower(): v for k, v in self.headers.items()},
                                body,
                                time.time(),
                            )
                        )
                    receiver.arrived.notify_all()
                self.send_response(receiver.status)
                self.send_header("content-length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        # A short poll: shutdown() waits up to one poll (0.5 s by default) for the loop to see it.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` requests have arrived; whether they did in time."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)

    def __enter__(self) -> Receiver:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

"""The client's own HTTP/1.1 transport against real sockets: framing, encodings, the pool, the
deadline, TLS verification and proxies (issue 11 item 2, SPEC R9).

Servers here are raw sockets in threads that answer with scripted bytes, so each test states
exactly what arrives on the wire.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync_engine.clockwork.client import ClockworkClient, Credentials, _default_transport
from sync_engine.clockwork.errors import ClockworkNetworkError, ClockworkUnexpectedResponse
from sync_engine.clockwork.transport import (
    AnswerTooLarge,
    ConnectError,
    ConnectTimeout,
    HTTPTransport,
    ProtocolError,
    ReadTimeout,
)

KEYS = {"api_key": "key-0001", "api_secret": "secret-0002", "firm_service_key": "firm-0003"}
HEADERS = b"Accept: application/json\r\n"
LIMIT = 10_000

Answer = Callable[[bytes, int], bytes | None]
"""Given a request (head and body) and the connection's number, the bytes to send back (None:
close the connection without answering)."""


def ok(body: bytes = b'{"people": []}', extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def _read_request(conn: socket.socket, buffer: bytearray) -> bytes | None:
    while b"\r\n\r\n" not in buffer:
        data = conn.recv(65536)
        if not data:
            return None
        buffer += data
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += conn.recv(65536)
    buffer[:] = rest[length:]
    return head + b"\r\n\r\n" + rest[:length]


class ScriptedServer:
    """Answers each request on loopback with ``answer(request, connection_number)``; records the
    requests and counts connections. ``tls`` serves https with that context; ``close_after``
    closes each connection after its first answer; ``handle`` takes over connections whole."""

    def __init__(
        self,
        answer: Answer,
        tls: ssl.SSLContext | None = None,
        *,
        close_after: bool = False,
        handle: Callable[[socket.socket], None] | None = None,
    ) -> None:
        self.answer = answer
        self.tls = tls
        self.close_after = close_after
        self.handle = handle
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            number = self.connections
            threading.Thread(target=self._answer, args=(conn, number), daemon=True).start()

    def _answer(self, conn: socket.socket, number: int) -> None:
        if self.handle is not None:
            with conn:
                self.handle(conn)
            return
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            buffer = bytearray()
            with conn:
                while (request := _read_request(conn, buffer)) is not None:
                    self.requests.append(request)
                    reply = self.answer(request, number)
                    if reply is None:
                        return
                    conn.sendall(reply)
                    if self.close_after:
                        return
        except (OSError, ssl.SSLError):
            return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(
        answer: Answer, tls: ssl.SSLContext | None = None, **options: object
    ) -> ScriptedServer:
        servers.append(ScriptedServer(answer, tls, **options))  # type: ignore[arg-type]
        return servers[-1]

    yield start
    for server in servers:
        server.close()


_OPEN: list[HTTPTransport] = []


@pytest.fixture(autouse=True)
def _close_transports() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def transport_to(url: str, **options: object) -> HTTPTransport:
    """A transport to ``url`` (closed after the test)."""
    options.setdefault("max_response_bytes", LIMIT)
    _OPEN.append(HTTPTransport(url, **options))  # type: ignore[arg-type]
    return _OPEN[-1]


def get(transport: HTTPTransport, target: str = "/v3.0/acme/people", seconds: float = 5.0):
    return transport.send("GET", target, HEADERS, None, time.monotonic() + seconds)


# --- framing and encodings ---------------------------------------------------------------------


def test_a_request_carries_host_headers_and_body_and_the_answer_comes_back_whole(
    serve: Callable[..., ScriptedServer],
) -> None:
    server = serve(lambda request, n: ok(b'{"a": 1}', b"Date: Tue, 01 Dec 2026 02:00:00 GMT\r\n"))
    transport = transport_to(server.url)
    answer = transport.send(
        "POST", "/v3.0/acme/people?x=1", HEADERS, b'{"b": 2}', time.monotonic() + 5
    )
    assert (answer.status, answer.reason, answer.body) == (200, "OK", b'{"a": 1}')
    assert answer.headers["date"] == "Tue, 01 Dec 2026 02:00:00 GMT"
    assert server.requests == [
        b"POST /v3.0/acme/people?x=1 HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{server.port}\r\n".encode()
        + HEADERS
        + b'Content-Length: 8\r\n\r\n{"b": 2}'
    ]
    transport.close()


def test_chunked_gzip_and_interim_answers_are_read(serve: Callable[..., ScriptedServer]) -> None:
    packed = gzip.compress(b'{"people": [1, 2, 3]}')
    chunked = b"".join(
        b"%x;ext=1\r\n%s\r\n" % (len(part), part) for part in (packed[:7], packed[7:])
    )
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
        + chunked
        + b"0\r\nX-Trailer: yes\r\n\r\n"
    )
    server = serve(lambda request, n: answer)
    transport = transport_to(server.url)
    assert get(transport).body == b'{"people": [1, 2, 3]}'
    assert get(transport).body == b'{"people": [1, 2, 3]}'
    assert server.connections == 1  # the chunked answer ended cleanly: the connection is reused
    transport.close()


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_is_read_wrapped_or_raw(serve: Callable[..., ScriptedServer], wbits: int) -> None:
    packer = zlib.compressobj(wbits=wbits)
    body = packer.compress(b'{"ok": true}') + packer.flush()
    server = serve(lambda request, n: ok(body, b"Content-Encoding: deflate\r\n"))
    assert get(transport_to(server.url)).body == b'{"ok": true}'


def test_an_answer_without_length_is_read_to_the_close_and_the_connection_not_reused(
    serve: Callable[..., ScriptedServer],
) -> None:
    server = serve(lambda request, n: b"HTTP/1.1 200 OK\r\n\r\n{}", close_after=True)
    transport = transport_to(server.url)
    assert get(transport).body == b"{}"
    assert get(transport).body == b"{}"
    assert server.connections == 2


def test_connection_close_is_honoured(serve: Callable[..., ScriptedServer]) -> None:
    server = serve(lambda request, n: ok(extra=b"Connection: close\r\n"))
    transport = transport_to(server.url)
    get(transport)
    get(transport)
    assert server.connections == 2


def test_an_answer_framed_by_both_chunks_and_a_length_is_read_chunked_and_not_reused(
    serve: Callable[..., ScriptedServer],
) -> None:
    # RFC 9112 6.3: the length is ignored, and the connection closed (a smuggling attempt).
    reply = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"
        b'8\r\n{"a": 1}\r\n0\r\n\r\n'
    )
    server = serve(lambda request, n: reply)
    transport = transport_to(server.url)
    assert get(transport).body == b'{"a": 1}'
    assert get(transport).body == b'{"a": 1}'
    assert server.connections == 2


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"HTTP/2 200 OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\n{}", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"x" * 70_000 + b"\r\n\r\n", "headers exceed"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope", "corrupt"),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", "switched protocols"),
    ],
    ids=["version", "two lengths", "header name", "huge head", "chunk", "gzip", "101"],
)
def test_answers_that_are_not_http_1_1_are_protocol_errors(
    serve: Callable[..., ScriptedServer], reply: bytes, message: str
) -> None:
    server = serve(lambda request, n: reply)
    with pytest.raises(ProtocolError, match=message):
        get(transport_to(server.url))


def test_a_body_over_the_cap_is_refused_unread_even_compressed(
    serve: Callable[..., ScriptedServer],
) -> None:
    declared = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (LIMIT + 1)
    server = serve(lambda request, n: declared)  # announces more than the cap, sends nothing
    with pytest.raises(AnswerTooLarge, match="larger than") as raised:
        get(transport_to(server.url), seconds=2.0)
    assert raised.value.status == 200
    bomb = gzip.compress(b" " * (LIMIT * 100))  # ~1 kB on the wire
    server = serve(lambda request, n: ok(bomb, b"Content-Encoding: gzip\r\n"))
    with pytest.raises(AnswerTooLarge):
        get(transport_to(server.url))
    over = b"%x\r\n%s\r\n0\r\n\r\n" % (LIMIT + 1, b"x" * (LIMIT + 1))
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + over
    server = serve(lambda request, n: chunked)
    with pytest.raises(AnswerTooLarge):
        get(transport_to(server.url))


# --- the pool ----------------------------------------------------------------------------------


def test_one_connection_serves_requests_in_turn(serve: Callable[..., ScriptedServer]) -> None:
    server = serve(lambda request, n: ok())
    transport = transport_to(server.url)
    for _ in range(5):
        get(transport)
    assert server.connections == 1
    transport.close()


def test_a_connection_the_server_dropped_while_idle_is_not_reused(
    serve: Callable[..., ScriptedServer],
) -> None:
    server = serve(lambda request, n: ok(), close_after=True)
    transport = transport_to(server.url)
    get(transport)
    time.sleep(0.2)  # the server's close (EOF) has reached us: seen before reuse
    transport.send("POST", "/v3.0/acme/people", HEADERS, b"{}", time.monotonic() + 5)
    assert server.connections == 2 and len(server.requests) == 2


def test_a_get_is_retried_once_on_a_fresh_connection_when_a_reused_one_was_dropped(
    serve: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(lambda request, n: ok() if len(server.requests) != 2 else None)
    transport = transport_to(server.url)
    monkeypatch.setattr("sync_engine.clockwork.transport._has_input", lambda sock: False)
    get(transport)
    get(transport)  # the server closes instead of answering: sent again on a new connection
    assert (server.connections, len(server.requests)) == (2, 3)


def test_a_write_on_a_dropped_reused_connection_is_not_sent_twice(
    serve: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(lambda request, n: ok() if len(server.requests) != 2 else None)
    transport = transport_to(server.url)
    monkeypatch.setattr("sync_engine.clockwork.transport._has_input", lambda sock: False)
    get(transport)
    with pytest.raises(ProtocolError, match="without answering"):
        transport.send("POST", "/v3.0/acme/people", HEADERS, b"{}", time.monotonic() + 5)
    assert len(server.requests) == 2


# --- the deadline ------------------------------------------------------------------------------


def test_a_dripping_chunked_answer_ends_at_the_deadline(
    serve: Callable[..., ScriptedServer],
) -> None:
    stop = threading.Event()

    def drip(conn: socket.socket) -> None:
        _read_request(conn, bytearray())
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while not stop.wait(0.1):  # a byte every 0.1 s: no read ever waits long
            conn.sendall(b"1\r\nx\r\n")

    server = serve(lambda request, n: None, handle=drip)
    transport = transport_to(server.url, read_timeout=5.0)
    started = time.monotonic()
    with pytest.raises(ReadTimeout, match="deadline"):
        get(transport, seconds=1.0)
    assert 0.9 <= time.monotonic() - started < 1.6
    stop.set()


def test_a_name_lookup_that_hangs_ends_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A resolver that never answers (a dead DNS server) holds only this request, up to its
    deadline: the lookup is part of connecting, which the deadline bounds."""
    released = threading.Event()

    def hanging_lookup(*args: object, **kwargs: object) -> list[object]:
        released.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_lookup)
    transport = transport_to("http://clockwork.invalid:8080")
    started = time.monotonic()
    with pytest.raises(ConnectTimeout, match=r"looking up clockwork\.invalid"):
        get(transport, seconds=0.5)
    assert time.monotonic() - started < 1.5
    released.set()


def test_a_name_that_does_not_resolve_is_a_connect_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_such_name(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(ConnectError, match=r"clockwork\.invalid.*Name or service not known"):
        get(transport_to("http://clockwork.invalid:8080"))


# --- TLS ---------------------------------------------------------------------------------------


def _certificates(tmp: Path) -> tuple[Path, ssl.SSLContext]:
    """A CA file and a server context whose certificate (for 127.0.0.1) that CA signed."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cwsync test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (tmp / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp / "leaf.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp / "leaf.pem", tmp / "leaf.key")
    return tmp / "ca.pem", server


def test_https_is_verified_against_the_trusted_authorities(
    serve: Callable[..., ScriptedServer], tmp_path: Path
) -> None:
    ca_file, server_tls = _certificates(tmp_path)
    server = serve(lambda request, n: ok(), tls=server_tls)
    trusting = transport_to(server.url, ssl_context=ssl.create_default_context(cafile=ca_file))
    assert get(trusting).status == 200
    assert get(trusting).status == 200
    assert server.connections == 1
    public_only = transport_to(server.url, ssl_context=httpx.create_ssl_context())
    with pytest.raises(ConnectError, match="certificate is not trusted"):
        get(public_only)


def test_https_refuses_a_trusted_certificate_for_another_name(
    serve: Callable[..., ScriptedServer], tmp_path: Path
) -> None:
    ca_file, server_tls = _certificates(tmp_path)  # valid for 127.0.0.1 only
    server = serve(lambda request, n: ok(), tls=server_tls)
    context = ssl.create_default_context(cafile=ca_file)
    other_name = transport_to(f"https://localhost:{server.port}", ssl_context=context)
    with pytest.raises(ConnectError, match=r"certificate is not trusted.*(?i:hostname|localhost)"):
        get(other_name)


def test_an_https_origin_needs_a_tls_context() -> None:
    with pytest.raises(ValueError, match="SSL context"):
        HTTPTransport("https://clockwork.test", max_response_bytes=LIMIT)


# --- proxies -----------------------------------------------------------------------------------


class Proxy:
    """An http:// proxy on loopback: relays CONNECT tunnels and answers forward requests
    itself; records what it was asked."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.seen: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://user:p%40ss@127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            request = _read_request(conn, bytearray())
            if request is None:
                return
            self.seen.append(request)
            if not request.startswith(b"CONNECT "):
                conn.sendall(ok(b'{"via": "proxy"}'))
                return
            if self.refuse:
                conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                return
            host, _, port = request.split(b" ")[1].decode().rpartition(":")
            with socket.create_connection((host, int(port))) as upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _pipe(conn, upstream)

    def close(self) -> None:
        self.sock.close()


def _pipe(left: socket.socket, right: socket.socket) -> None:
    def copy(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    other = threading.Thread(target=copy, args=(right, left), daemon=True)
    other.start()
    copy(left, right)
    other.join(5)


def test_http_through_a_proxy_uses_the_absolute_url_and_the_proxy_credentials() -> None:
    proxy = Proxy()
    transport = transport_to("http://clockwork.test:8080", proxy=proxy.url)
    assert get(transport).body == b'{"via": "proxy"}'
    head = proxy.seen[0].split(b"\r\n")
    assert head[0] == b"GET http://clockwork.test:8080/v3.0/acme/people HTTP/1.1"
    assert b"Host: clockwork.test:8080" in head
    assert b"Proxy-Authorization: Basic dXNlcjpwQHNz" in head  # user:p@ss
    proxy.close()


def test_https_through_a_proxy_tunnels_and_still_verifies_the_server(
    serve: Callable[..., ScriptedServer], tmp_path: Path
) -> None:
    ca_file, server_tls = _certificates(tmp_path)
    server = serve(lambda request, n: ok(), tls=server_tls)
    proxy = Proxy()
    context = ssl.create_default_context(cafile=ca_file)
    transport = transport_to(server.url, proxy=proxy.url, ssl_context=context)
    assert get(transport).status == 200
    assert proxy.seen[0].startswith(f"CONNECT 127.0.0.1:{server.port} HTTP/1.1\r\n".encode())
    assert b"Proxy-Authorization: Basic dXNlcjpwQHNz" in proxy.seen[0]
    assert b"Proxy-Authorization" not in server.requests[0]  # never sent inside the tunnel
    untrusting = transport_to(server.url, proxy=proxy.url, ssl_context=httpx.create_ssl_context())
    with pytest.raises(ConnectError, match="not trusted"):
        get(untrusting)
    refusing = Proxy(refuse=True)
    with pytest.raises(ConnectError, match="refused the tunnel: 407"):
        get(transport_to(server.url, proxy=refusing.url, ssl_context=context))
    proxy.close()
    refusing.close()


def test_the_environments_proxy_is_used_unless_the_host_is_excluded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    credentials = Credentials(
        firm="acme", api_key="k", api_secret="s", firm_service_key="f",
        base_url="https://api.clockworkrecruiting.com",
    )  # fmt: skip
    transport = _default_transport(credentials, httpx.Timeout(5.0))
    assert isinstance(transport, HTTPTransport) and transport._proxy is not None
    assert transport._proxy.authority == "proxy.internal:3128"
    monkeypatch.setenv("NO_PROXY", "clockworkrecruiting.com")
    transport = _default_transport(credentials, httpx.Timeout(5.0))
    assert isinstance(transport, HTTPTransport) and transport._proxy is None
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.setenv("HTTPS_PROXY", "HTTP://proxy.internal:3128")  # a scheme in capitals
    assert isinstance(_default_transport(credentials, httpx.Timeout(5.0)), HTTPTransport)
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.internal:3129")  # not ours to speak: httpx
    assert isinstance(_default_transport(credentials, httpx.Timeout(5.0)), httpx.HTTPTransport)


@pytest.mark.parametrize(
    "proxy", ["http://user:s3cret@", "http://user:s3cret@:3128", "socks5://user:s3cret@proxy:1080"]
)
def test_a_proxy_that_cannot_be_used_is_refused_without_its_password(proxy: str) -> None:
    with pytest.raises(ValueError) as refused:
        HTTPTransport("http://clockwork.test", proxy=proxy, max_response_bytes=LIMIT)
    assert "s3cret" not in str(refused.value) and "user" not in str(refused.value)


# --- through the client ------------------------------------------------------------------------


def test_the_clients_errors_name_the_transports_reason(
    serve: Callable[..., ScriptedServer],
) -> None:
    server = serve(lambda request, n: b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
    credentials = Credentials(firm="acme", base_url=server.url, **KEYS)
    with ClockworkClient(credentials) as client, pytest.raises(ClockworkNetworkError) as raised:
        client.check_credentials()
    assert "ProtocolError: a malformed Content-Length" in raised.value.message
    big = serve(lambda request, n: b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n")
    credentials = Credentials(firm="acme", base_url=big.url, **KEYS)
    with ClockworkClient(credentials) as client, pytest.raises(ClockworkUnexpectedResponse) as too:
        client.check_credentials()
    assert too.value.status == 200 and "larger than" in too.value.message

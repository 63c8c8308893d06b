"""HTTP/1.1 to one Clockwork origin on plain sockets, each request within one overall deadline.

:class:`HTTPTransport` keeps a small pool of keep-alive connections and sends each request and
reads its whole answer (name lookup, connect, TLS, proxy tunnel, headers and body) by a deadline, not per
read, so a server that drips or hangs ends as :class:`TransportTimeout`. It speaks only what the
client needs: one request at a time per connection, ``Content-Length`` or chunked or
read-until-close framing, gzip/deflate answers, TLS verified with the given context, and an
``http://`` proxy (``CONNECT`` for https targets, absolute URLs for http ones). It costs about a
fifth of the CPU of httpx's transport per request, which matters at the engine's request rates.

Errors, raised at this seam only and translated by the client::

    TransportError
    ├── TransportTimeout          the deadline (or a per-step timeout) passed
    │   ├── ConnectTimeout
    │   ├── WriteTimeout
    │   └── ReadTimeout
    ├── ConnectError              no connection: refused, unknown host, TLS, proxy refused
    ├── WriteError / ReadError    the connection broke
    └── ProtocolError             not an HTTP/1.1 answer (bad framing, closed before answering)
    AnswerTooLarge                a body over the cap (not a transport failure: it has a status)

Past 500 lines on purpose: one wire protocol, read top to bottom (pool, connect, write, head,
body framing, encodings), each step beside the deadline check that bounds it.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import re
import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS: Final = {"http": 80, "https": 443}
MAX_HEAD_BYTES: Final = 65_536
"""Status line and headers of one answer, together."""
MAX_LINE_BYTES: Final = 4_096
"""A chunk-size or trailer line."""
IDLE_SECONDS: Final = 4.0
"""A pooled connection unused for longer is closed, not reused: servers commonly drop idle
keep-alive connections after 5 s, and a request sent as one is dropped is lost to the race."""
MAX_IDLE: Final = 64
RECV_BYTES: Final = 65_536

_STATUS_LINE = re.compile(rb"HTTP/(1\.[01]) ([0-9]{3})(?: ([^\r\n]*))?")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_LINE_BREAK = re.compile(rb"\r?\n")


class TransportError(Exception):
    """The request got no usable answer; the message says why (no credential in it)."""


class TransportTimeout(TransportError):
    """The request's deadline, or a step's own timeout, passed before the answer was whole."""


class ConnectTimeout(TransportTimeout):
    """Connecting (TCP, proxy tunnel or TLS handshake) took too long."""


class WriteTimeout(TransportTimeout):
    """Sending the request took too long."""


class ReadTimeout(TransportTimeout):
    """The answer did not arrive whole in time."""


class ConnectError(TransportError):
    """No connection to the server (or through the proxy)."""


class WriteError(TransportError):
    """The connection broke while sending."""


class ReadError(TransportError):
    """The connection broke while reading the answer."""


class ProtocolError(TransportError):
    """The answer is not HTTP/1.1 as RFC 9112 frames it."""


class AnswerTooLarge(Exception):
    """The answer's body is over the cap; it was not read (or not decompressed) further."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole answer: status, headers (names lower-case, repeats joined by ", "), and the body
    with any gzip/deflate encoding undone."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def charset(self) -> str | None:
        """The ``charset`` of ``Content-Type``, if named."""
        for parameter in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
        return None


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port of a URL."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of an ``http`` or ``https`` URL (ValueError for anything else)."""
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"{_shown(url)!r} is not an http(s) URL with a host")
        host = (
            parts.hostname if parts.hostname.isascii() else parts.hostname.encode("idna").decode()
        )
        return cls(parts.scheme, host, parts.port or DEFAULT_PORTS[parts.scheme])

    @property
    def authority(self) -> str:
        """``host[:port]`` as a Host header or a CONNECT target writes it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


class _Connection:
    __slots__ = ("buffer", "idle_since", "reused", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.idle_since = 0.0
        self.reused = False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class _Stale(Exception):
    """A reused connection was closed by the server before any byte of the answer."""


class HTTPTransport:
    """Requests to one origin over pooled HTTP/1.1 connections; safe to share between threads.

    ``ssl_context`` verifies https servers (required for an https origin); ``proxy`` is an
    ``http://[user:password@]host:port`` proxy. ``connect_timeout``, ``read_timeout`` and
    ``write_timeout`` bound each step besides the request's overall deadline.
    """

    def __init__(
        self,
        base_url: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        max_response_bytes: int,
    ) -> None:
        self.origin = Origin.of(base_url)
        if self.origin.scheme == "https" and ssl_context is None:
            raise ValueError("an https origin needs an SSL context to verify it")
        self._ssl_context = ssl_context
        self._proxy: Origin | None = None
        self._proxy_headers = b""
        if proxy:
            self._proxy = Origin.of(proxy)
            if self._proxy.scheme != "http":
                raise ValueError(f"only http:// proxies are supported here, not {_shown(proxy)!r}")
            parts = urlsplit(proxy)
            if parts.username is not None:
                pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                token = base64.b64encode(pair.encode()).decode()
                self._proxy_headers = f"Proxy-Authorization: Basic {token}\r\n".encode()
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._max_bytes = max_response_bytes
        forward = self._proxy is not None and self.origin.scheme == "http"
        self._target_prefix = f"http://{self.origin.authority}".encode() if forward else b""
        self._host_line = b"Host: " + self.origin.authority.encode() + b"\r\n"
        if forward:
            self._host_line += self._proxy_headers
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    # --- one request -----------------------------------------------------------------------------

    def send(
        self, method: str, target: str, headers: bytes, body: bytes | None, deadline: float
    ) -> Answer:
        """Send ``method target`` (origin-form: path and query, ASCII) with ``headers`` (a block
        of ``Name: value\\r\\n`` lines, without Host or Content-Length) and ``body``, and return
        the whole answer by ``deadline`` (``time.monotonic()`` seconds)."""
        request = b"%s %s%s HTTP/1.1\r\n%s%s" % (
            method.encode(),
            self._target_prefix,
            target.encode("ascii"),
            self._host_line,
            headers,
        )
        if body is not None:
            request += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        else:
            request += b"\r\n"
        try:
            return self._exchange(method, request, deadline)
        except _Stale:
            if method != "GET":  # a write may have reached the server: not sent twice
                raise ProtocolError("the server closed the connection without answering") from None
            return self._exchange(method, request, deadline, fresh=True)

    def _exchange(
        self, method: str, request: bytes, deadline: float, *, fresh: bool = False
    ) -> Answer:
        conn = self._connect(deadline) if fresh else self._checkout(deadline)
        try:
            self._write(conn, request, deadline)
            answer, reusable = self._read_answer(conn, method, deadline)
        except BaseException:
            conn.close()
            raise
        if reusable:
            self._checkin(conn)
        else:
            conn.close()
        return answer

    def close(self) -> None:
        """Close the idle connections; those in use close when their answer is read."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # --- the pool --------------------------------------------------------------------------------

    def _checkout(self, deadline: float) -> _Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect(deadline)
            if time.monotonic() - conn.idle_since < IDLE_SECONDS and not _has_input(conn.sock):
                conn.reused = True
                return conn
            conn.close()  # expired, or the server closed it (or sent something unasked)

    def _checkin(self, conn: _Connection) -> None:
        conn.idle_since = time.monotonic()
        with self._lock:
            if not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()

    def _connect(self, deadline: float) -> _Connection:
        peer = self._proxy or self.origin
        timeout = self._step_timeout(deadline, self._connect_timeout, ConnectTimeout)
        conn = _Connection(_open_socket(peer, time.monotonic() + timeout, timeout))
        try:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._proxy is not None and self.origin.scheme == "https":
                self._tunnel(conn, deadline)
            if self.origin.scheme == "https":
                conn.sock = self._start_tls(conn.sock, deadline)
        except BaseException:
            conn.close()
            raise
        return conn

    def _tunnel(self, conn: _Connection, deadline: float) -> None:
        target = _connect_target(self.origin).encode()  # CONNECT always names the port
        request = b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
            target,
            target,
            self._proxy_headers,
        )
        try:
            self._write(conn, request, deadline)
            status, reason, _headers, _version = self._read_head(conn, deadline)
        except TransportTimeout as exc:
            raise ConnectTimeout(f"the proxy's tunnel: {exc}") from None
        except TransportError as exc:
            raise ConnectError(f"the proxy's tunnel: {exc}") from None
        if not 200 <= status < 300:
            raise ConnectError(f"the proxy refused the tunnel: {status} {reason}".strip())
        if conn.buffer:
            raise ProtocolError("the proxy sent data before the tunnel was set up")

    def _start_tls(self, sock: socket.socket, deadline: float) -> ssl.SSLSocket:
        assert self._ssl_context is not None
        timeout = self._step_timeout(deadline, self._connect_timeout, ConnectTimeout)
        sock.settimeout(timeout)
        tls = self._ssl_context.wrap_socket(
            sock, server_hostname=self.origin.host, do_handshake_on_connect=False
        )
        try:
            tls.do_handshake()  # one deadline for the whole handshake (CPython's _ssl)
        except TimeoutError:
            tls.close()
            raise ConnectTimeout(f"the TLS handshake took over {timeout:.3g} s") from None
        except ssl.SSLCertVerificationError as exc:
            tls.close()
            detail = exc.verify_message or _reason(exc)
            raise ConnectError(f"the server's TLS certificate is not trusted: {detail}") from None
        except OSError as exc:
            tls.close()
            raise ConnectError(f"the TLS handshake failed: {_reason(exc)}") from None
        return tls

    # --- bytes on the wire -----------------------------------------------------------------------

    def _step_timeout(
        self, deadline: float, step: float | None, expired: type[TransportTimeout]
    ) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise expired("the request's overall deadline passed")
        return remaining if step is None else min(step, remaining)

    def _write(self, conn: _Connection, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            conn.sock.settimeout(self._step_timeout(deadline, self._write_timeout, WriteTimeout))
            try:
                sent = conn.sock.send(view)
            except TimeoutError:
                raise WriteTimeout("sending the request took too long") from None
            except OSError as exc:
                if conn.reused and len(view) == len(data):
                    raise _Stale from None
                raise WriteError(f"the connection broke while sending: {_reason(exc)}") from None
            view = view[sent:]

    def _recv(self, conn: _Connection, deadline: float) -> bytes:
        timeout = self._step_timeout(deadline, self._read_timeout, ReadTimeout)
        conn.sock.settimeout(timeout)
        try:
            return conn.sock.recv(RECV_BYTES)
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise ReadTimeout("the whole answer did not arrive within the deadline") from None
            raise ReadTimeout(f"the server sent nothing for {timeout:.3g} s") from None
        except OSError as exc:
            if conn.reused and not conn.buffer:
                raise _Stale from None
            raise ReadError(f"the connection broke while reading: {_reason(exc)}") from None

    def _fill(self, conn: _Connection, deadline: float, what: str) -> None:
        """Read more into the connection's buffer; ProtocolError if the server closed it."""
        data = self._recv(conn, deadline)
        if not data:
            raise ProtocolError(f"the server closed the connection {what}")
        conn.buffer += data

    # --- the answer ------------------------------------------------------------------------------

    def _read_head(
        self, conn: _Connection, deadline: float
    ) -> tuple[int, str, dict[str, str], bytes]:
        """Status, reason, headers and HTTP version of the next answer head (1xx skipped)."""
        while True:
            searched = 0
            while (end := _BLANK_LINE.search(conn.buffer, searched)) is None:
                if len(conn.buffer) > MAX_HEAD_BYTES:
                    raise ProtocolError(f"the answer's headers exceed {MAX_HEAD_BYTES} bytes")
                searched = max(0, len(conn.buffer) - 3)
                if not conn.buffer:
                    data = self._recv(conn, deadline)
                    if not data:
                        if conn.reused:
                            raise _Stale
                        raise ProtocolError("the server closed the connection without answering")
                    conn.buffer += data
                else:
                    self._fill(conn, deadline, "in the middle of the answer's headers")
            if end.start() > MAX_HEAD_BYTES:
                raise ProtocolError(f"the answer's headers exceed {MAX_HEAD_BYTES} bytes")
            head = bytes(conn.buffer[: end.start()])
            del conn.buffer[: end.end()]
            status, reason, headers, version = _parse_head(head)
            if status >= 200:
                return status, reason, headers, version
            if status == 101:
                raise ProtocolError("the server switched protocols, which was not asked for")

    def _read_answer(self, conn: _Connection, method: str, deadline: float) -> tuple[Answer, bool]:
        status, reason, headers, version = self._read_head(conn, deadline)
        conn.reused = False  # the server answered: no longer a stale-connection case
        keep = version == b"1.1" and "close" not in _tokens(headers.get("connection", ""))
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "transfer-encoding" in headers:
            # With a Content-Length too, the framing is suspect: not reused (RFC 9112 6.3).
            keep = keep and "content-length" not in headers
            if _tokens(headers["transfer-encoding"])[-1:] == ["chunked"]:
                body = self._read_chunked(conn, status, deadline)
            else:
                body, keep = self._read_to_close(conn, status, deadline), False
        elif "content-length" in headers:
            body = self._read_length(conn, status, _content_length(headers), deadline)
        else:
            body, keep = self._read_to_close(conn, status, deadline), False
        body = _decoded(body, headers.get("content-encoding", ""), status, self._max_bytes)
        answer = Answer(status=status, reason=reason, headers=headers, body=body)
        return answer, keep and not conn.buffer

    def _too_large(self, status: int) -> AnswerTooLarge:
        return AnswerTooLarge(
            f"answer larger than {self._max_bytes:,} bytes, not read", status=status
        )

    def _read_length(self, conn: _Connection, status: int, length: int, deadline: float) -> bytes:
        if length > self._max_bytes:
            raise self._too_large(status)
        while len(conn.buffer) < length:
            self._fill(conn, deadline, f"after {len(conn.buffer)} of {length} bytes")
        body = bytes(conn.buffer[:length])
        del conn.buffer[:length]
        return body

    def _read_to_close(self, conn: _Connection, status: int, deadline: float) -> bytes:
        while data := self._recv(conn, deadline):
            conn.buffer += data
            if len(conn.buffer) > self._max_bytes:
                raise self._too_large(status)
        body = bytes(conn.buffer)
        conn.buffer.clear()
        return body

    def _read_line(self, conn: _Connection, deadline: float) -> bytes:
        while (end := conn.buffer.find(b"\n")) < 0:
            if len(conn.buffer) > MAX_LINE_BYTES:
                raise ProtocolError("a chunked answer has an over-long line")
            self._fill(conn, deadline, "in the middle of a chunked answer")
        line = bytes(conn.buffer[:end]).rstrip(b"\r")
        del conn.buffer[: end + 1]
        return line

    def _read_chunked(self, conn: _Connection, status: int, deadline: float) -> bytes:
        body = bytearray()
        while True:
            size_text = self._read_line(conn, deadline).split(b";", 1)[0].strip(b" \t")
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise ProtocolError("a chunked answer has a malformed chunk size")
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > self._max_bytes:
                raise self._too_large(status)
            body += self._read_length(conn, status, size, deadline)
            if self._read_line(conn, deadline):
                raise ProtocolError("a chunk of the answer is longer than its size says")
        for _ in range(100):  # trailers: read and ignored
            if not self._read_line(conn, deadline):
                return bytes(body)
        raise ProtocolError("a chunked answer has too many trailer lines")


def _has_input(sock: socket.socket) -> bool:
    """Whether an idle connection has something to read: the server closed it (EOF), or sent
    what nobody asked for; either way it is not reused."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _open_socket(peer: Origin, until: float, timeout: float) -> socket.socket:
    """A TCP connection to ``peer`` by ``until`` (``timeout`` seconds from now): its name looked
    up within that time, then each of its addresses tried in the time left."""
    error: OSError | None = None
    for address in _resolve(peer, until, timeout):
        left = until - time.monotonic()
        if left <= 0:
            break
        try:
            return socket.create_connection(address, timeout=left)
        except OSError as exc:
            error = exc
    if error is None or isinstance(error, TimeoutError):
        raise ConnectTimeout(f"connecting to {peer.authority} took over {timeout:.3g} s")
    raise ConnectError(f"cannot connect to {peer.authority}: {_reason(error)}")


def _resolve(peer: Origin, until: float, timeout: float) -> list[tuple[str, int]]:
    """The addresses of ``peer``'s host, looked up in a thread of its own: the system's resolver
    takes no timeout, so one that hangs holds that thread, not the request past ``until``."""
    try:
        ipaddress.ip_address(peer.host)
    except ValueError:
        pass
    else:
        return [(peer.host, peer.port)]
    found: list[tuple[str, int]] = []
    failed: list[OSError] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            infos = socket.getaddrinfo(peer.host, peer.port, type=socket.SOCK_STREAM)
            found.extend((str(info[4][0]), peer.port) for info in infos)
        except OSError as exc:
            failed.append(exc)
        finally:
            done.set()

    threading.Thread(target=look_up, name="cwsync-resolve", daemon=True).start()
    if not done.wait(max(0.0, until - time.monotonic())):
        raise ConnectTimeout(f"looking up {peer.host} took over {timeout:.3g} s")
    if failed:
        raise ConnectError(f"cannot connect to {peer.authority}: {_reason(failed[0])}")
    return found


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str], bytes]:
    lines = _LINE_BREAK.split(head)
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:60]!r}")
    version, status_text, reason = match.groups()
    headers: dict[str, str] = {}
    name = ""
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):  # obsolete line folding: part of the previous value
            if not name:
                raise ProtocolError("the answer's headers start with a continuation line")
            headers[name] += " " + line.strip(b" \t").decode("latin-1")
            continue
        raw_name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(raw_name):
            raise ProtocolError(f"a malformed header line: {line[:60]!r}")
        name = raw_name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return int(status_text), (reason or b"").decode("latin-1"), headers, version


def _tokens(value: str) -> list[str]:
    return [token.strip().lower() for token in value.split(",") if token.strip()]


def _content_length(headers: Mapping[str, str]) -> int:
    values = {value.strip() for value in headers["content-length"].split(",")}
    if len(values) != 1 or not (value := values.pop()).isdigit() or not value.isascii():
        raise ProtocolError(f"a malformed Content-Length: {headers['content-length'][:40]!r}")
    return int(value)


def _decoded(body: bytes, encoding: str, status: int, limit: int) -> bytes:
    """``body`` with its Content-Encoding undone (gzip, deflate), at most ``limit`` bytes of it
    (AnswerTooLarge past that: a small compressed body may expand enormously)."""
    codings = _tokens(encoding)
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            attempts = [16 + zlib.MAX_WBITS]
        elif coding == "deflate":  # zlib-wrapped as the RFC says, or raw as some servers send
            attempts = [zlib.MAX_WBITS, -zlib.MAX_WBITS]
        else:  # identity, or one we did not offer: left as is (httpx does the same)
            continue
        for wbits in attempts:
            decompressor = zlib.decompressobj(wbits)
            try:
                expanded = decompressor.decompress(body, limit + 1)
            except zlib.error as exc:
                if wbits == attempts[-1]:
                    raise ProtocolError(f"the answer's {coding} body is corrupt: {exc}") from None
                continue
            if len(expanded) > limit or decompressor.unconsumed_tail:
                raise AnswerTooLarge(f"answer larger than {limit:,} bytes, not read", status=status)
            body = expanded
            break
    return body


def _shown(url: str) -> str:
    """``url`` as a message may show it: without a ``user:password@`` (a proxy's credentials)."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _connect_target(origin: Origin) -> str:
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    return f"{host}:{origin.port}"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__

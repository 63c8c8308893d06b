"""The client for Clockwork's v3.0 REST API: one method per call the engine, the services
and verification make, each sending a route of :mod:`sync_engine.clockwork.contract`.

Here are the firm's credentials and how they sign a request (:class:`ClockworkAuth`), and the one
boundary with HTTP, ``ClockworkClient._send``: the pacer, the deadline, the size cap, the call
log, and the contract's status → error table. Callers get plain dicts back or a
``ClockworkError``; the client never retries and never sleeps — the engine schedules retries
(SPEC R7). Tests read what Clockwork holds from the simulator's state, not through this client.

Past 500 lines on purpose: the methods stay beside the one ``_send`` boundary they all go
through, so a request's whole path reads in one file; the next seam, should it grow, is the
credentials with their auth (about 85 lines).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import ssl
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache, partial
from types import TracebackType
from typing import Any, Final, Protocol, Self, TypedDict, TypeVar
from urllib.parse import urlencode
from urllib.request import getproxies, proxy_bypass

import httpx

from sync_engine.clockwork.contract import (
    ACCEPT_HEADERS,
    API_VERSION_PREFIX,
    MAX_PAGE_SIZE,
    MAX_PAGES,
    Endpoint,
    JSONObject,
    OffsetPaging,
    Page,
    PagePaging,
    Paging,
    Route,
    as_utc,
    candidacy_body,
    email_body,
    error_class_for,
    linkedin_url_body,
    note_body,
    offset_params,
    parse_retry_after,
    person_body,
    position_body,
    read_identified,
    read_nothing,
    read_object,
    read_page,
    read_search_page,
)
from sync_engine.clockwork.deadline import deadline_transport, request_deadline
from sync_engine.clockwork.errors import (
    ClockworkCancelled,
    ClockworkError,
    ClockworkNetworkError,
    ClockworkRateLimited,
    ClockworkTimeout,
    ClockworkUnexpectedResponse,
    ClockworkValidationError,
)
from sync_engine.clockwork.transport import (
    Answer,
    AnswerTooLarge,
    HTTPTransport,
    TransportError,
    TransportTimeout,
)
from sync_engine.crypto import mask
from sync_engine.domain import CLOCKWORK_API_URL, printable
from sync_engine.matching import email_spellings, normalize_email

T = TypeVar("T")

DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=5.0, read=15.0, write=15.0, pool=5.0)
MAX_RESPONSE_BYTES: Final = 5_000_000
"""A bigger answer is refused unread: 100 full people take well under 1 MB."""
MAX_MESSAGE_CHARS: Final = 300


def api_token(credentials: Credentials) -> str:
    """The ``Authorization: Token …`` value [C]: base64 of ``api_key:api_secret``."""
    return base64.b64encode(f"{credentials.api_key}:{credentials.api_secret}".encode()).decode()


class ClockworkAuth(httpx.Auth):
    """The firm's credentials on every request [C]: ``X-API-Key`` (the firm service key) and
    ``Authorization: Token base64(api_key:api_secret)``."""

    def __init__(self, credentials: Credentials) -> None:
        self.headers = {
            "X-API-Key": credentials.firm_service_key,
            "Authorization": f"Token {api_token(credentials)}",
        }

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.headers)
        yield request


_FIRM_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HEADER_TOKEN = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: safe in a header


@dataclass(frozen=True, repr=False)
class Credentials:
    """What a firm's connection needs to call Clockwork; ``repr`` masks the secrets."""

    firm: str
    api_key: str
    api_secret: str
    firm_service_key: str
    base_url: str = CLOCKWORK_API_URL

    def __post_init__(self) -> None:
        if not _FIRM_NAME.fullmatch(self.firm):
            raise ValueError(
                f"firm {self.firm!r} is not a Clockwork firm name: use the login subdomain "
                "(acme.clockworkrecruiting.com → 'acme'): lowercase letters, digits and inner "
                "hyphens, at most 63 characters"
            )
        for field_name in ("api_key", "api_secret", "firm_service_key"):
            if not _HEADER_TOKEN.fullmatch(getattr(self, field_name)):
                raise ValueError(f"{field_name} must be non-empty printable ASCII without spaces")
        try:
            url = httpx.URL(self.base_url)
        except httpx.InvalidURL as exc:
            raise ValueError(f"base_url {self.base_url!r} is not a URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
            raise ValueError(
                f"base_url {self.base_url!r} must be an http(s) URL with a host and no query, "
                "e.g. https://api.clockworkrecruiting.com"
            )

    @property
    def encrypted_in_transit(self) -> bool:
        """Whether the keys are safe on the way: https, or a server on this machine."""
        url = httpx.URL(self.base_url)
        if url.scheme == "https":
            return True
        try:
            return ipaddress.ip_address(url.host).is_loopback
        except ValueError:
            return url.host == "localhost"

    @property
    def firm_base_url(self) -> str:
        """``{base_url}/v3.0/{firm}``: the prefix of every contract path."""
        return f"{self.base_url.rstrip('/')}{API_VERSION_PREFIX}/{self.firm}"

    def secrets(self) -> tuple[str, ...]:
        """Every value that must never appear in a message or a log, longest first."""
        values = {self.api_key, self.api_secret, self.firm_service_key, api_token(self)}
        return tuple(sorted(values, key=len, reverse=True))

    def __repr__(self) -> str:
        return (
            f"Credentials(firm={self.firm!r}, api_key={mask(self.api_key)!r}, "
            f"api_secret={mask(self.api_secret)!r}, "
            f"firm_service_key={mask(self.firm_service_key)!r}, "
            f"base_url={self.base_url!r})"
        )


@dataclass(frozen=True)
class CallRecord:
    """One HTTP request as the engine's API call log stores it: no ids, query values or secrets.

    ``path_template`` keeps the placeholder (``/people/{id}/notes``); ``status`` is None when no
    response arrived; ``error`` is a short redacted excerpt, None on success; ``at`` is when the
    request started, from the client's clock.
    """

    method: str
    path_template: str
    status: int | None
    latency_ms: float
    error: str | None
    at: datetime


class Pacer(Protocol):
    """Keeps the client within a firm's request budget; the engine provides implementations."""

    def acquire(self) -> None:
        """Called before every request; may block until the budget allows one more."""

    def throttled(self, retry_after: float | None) -> None:
        """Called when Clockwork answered "slow down" (429, or 503 with Retry-After)."""

    def answered(self) -> None:
        """Called when Clockwork answered without asking to slow down."""


@dataclass(frozen=True)
class CandidacyResult:
    """Outcome of adding a person to a project; ``already_present`` when it was there before."""

    candidacy: JSONObject | None
    already_present: bool


# ── the client ────────────────────────────────────────────────────────────────────────────────


class _RequestContext(TypedDict):
    """What every error says about its request."""

    method: str
    path_template: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ClockworkClient:
    """A firm's Clockwork API, one method per contract row, over one pooled transport.

    Every request goes through ``_send``: the pacer is asked first, the request must be answered
    whole within ``deadline_seconds`` (and before ``stop_at()``, when the caller has a stop
    time), the answer is read up to ``MAX_RESPONSE_BYTES``, the outcome is reported to
    ``on_call`` and any failure is raised as a ``ClockworkError``. Safe to share between threads.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        transport: httpx.BaseTransport | HTTPTransport | None = None,
        timeout: httpx.Timeout | None = None,
        deadline_seconds: float | None = None,
        stop_at: Callable[[], float | None] | None = None,
        on_call: Callable[[CallRecord], None] | None = None,
        pacer: Pacer | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._secrets = credentials.secrets()
        self._on_call = on_call
        self._pacer = pacer
        self._clock = clock
        timeout = timeout if timeout is not None else DEFAULT_TIMEOUT
        self._deadline_seconds = deadline_seconds or timeout.read or DEFAULT_TIMEOUT.read or 15.0
        self._stop_at = stop_at
        self._local = threading.local()
        # Requests go straight to a transport (no httpx.Client: its URL merging, auth flow,
        # cookies and hooks cost more CPU than the request itself); all that varies per request
        # is the path, the query and the body.
        if transport is None:
            transport = _default_transport(credentials, timeout)
        self._http = transport if isinstance(transport, HTTPTransport) else None
        self._httpx = None if isinstance(transport, HTTPTransport) else transport
        self._base = httpx.URL(credentials.firm_base_url)
        self._prefix = self._base.raw_path.decode("ascii").rstrip("/")
        headers = {**_WIRE_HEADERS, **ACCEPT_HEADERS, **ClockworkAuth(credentials).headers}
        self._read_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
        self._write_headers = [*self._read_headers, (b"Content-Type", b"application/json")]
        self._read_head = b"".join(b"%s: %s\r\n" % pair for pair in self._read_headers)
        self._write_head = b"".join(b"%s: %s\r\n" % pair for pair in self._write_headers)
        self._extensions = {"timeout": timeout.as_dict()}

    def server_time(self) -> datetime | None:
        """Clockwork's clock: the ``Date`` of the last answer this thread received (None if that
        answer had none). Lets the engine compare Clockwork's timestamps with Clockwork's time."""
        return _http_date(getattr(self._local, "server_date", None))

    def close(self) -> None:
        """Close the underlying connections."""
        if self._http is not None:
            self._http.close()
        if self._httpx is not None:
            self._httpx.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ── people ──

    def check_credentials(self) -> None:
        """Return if Clockwork accepts the credentials; raise ``ClockworkAuthError`` if not
        (``ClockworkNotFound`` for an unknown firm)."""
        self._send(Endpoint.LIST_PEOPLE, read_nothing, params=offset_params(limit=1, offset=0))

    def iter_search(self, q: str) -> Iterator[JSONObject]:
        """Every hit of a people search, page after page (at most ``MAX_PAGES``)."""
        return self._walk(
            Endpoint.SEARCH_PEOPLE, read_search_page, PagePaging(), extra_params={"q": q}
        )

    def find_people_by_email(self, email: str) -> list[JSONObject]:
        """People having ``email`` on any address, oldest first, addresses compared as contacts
        are identified (``matching.normalize_email``: case, an internationalised domain in either
        spelling).

        Search hits that only match by name, or by another address, are dropped: the search is a
        candidate list, not a match (SPEC R3). An internationalised domain is searched in both
        spellings, since Clockwork may hold either.
        """
        if "@" not in email:
            raise ValueError(f"{email!r} is not an email address")
        spellings = email_spellings(email)
        matches: dict[str, JSONObject] = {}
        for spelling in spellings:
            for person in self.iter_search(spelling):
                if spellings[0] in _email_addresses(person):
                    matches.setdefault(str(person.get("id")), person)
        return sorted(matches.values(), key=_oldest_first)

    def get_person(self, person_id: str) -> JSONObject:
        """One person by id (``ClockworkNotFound`` if unknown)."""
        return self._send(Endpoint.GET_PERSON, partial(read_identified, key="person"), person_id)

    def create_person(
        self, *, first_name: str, last_name: str, name: str | None = None
    ) -> JSONObject:
        """Create a person (Clockwork does not dedupe: search first). ``name`` defaults to
        "first last"."""
        full_name = name if name is not None else " ".join(filter(None, (first_name, last_name)))
        body = person_body(first_name=first_name, last_name=last_name, name=full_name)
        read = partial(read_identified, key="person")
        return self._send(Endpoint.CREATE_PERSON, read, body=body)

    def add_email(self, person_id: str, address: str, location: str = "work") -> JSONObject:
        """Add an email address to a person; the first one becomes the preferred address."""
        body = email_body(address=address, location=location)
        read = partial(read_object, key="personEmailAddress")
        return self._send(Endpoint.ADD_EMAIL, read, person_id, body=body)

    def add_position(self, person_id: str, *, title: str, company_name: str) -> JSONObject:
        """Add a position (title at company) to a person."""
        body = position_body(title=title, company_name=company_name)
        read = partial(read_object, key="position")
        return self._send(Endpoint.ADD_POSITION, read, person_id, body=body)

    def add_linkedin_url(self, person_id: str, url: str) -> JSONObject:
        """Add a LinkedIn URL to a person; the first one becomes the preferred URL."""
        read = partial(read_object, key="personLinkedinUrl")
        return self._send(
            Endpoint.ADD_LINKEDIN_URL, read, person_id, body=linkedin_url_body(url=url)
        )

    # ── projects and candidacies ──

    def iter_projects(self, *, page_size: int = MAX_PAGE_SIZE) -> Iterator[JSONObject]:
        """Every project of the firm, page after page."""
        read = partial(read_page, key="projects")
        return self._walk(Endpoint.LIST_PROJECTS, read, OffsetPaging(page_size))

    def iter_candidacies(
        self, project_id: str, *, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[JSONObject]:
        """Every candidacy of a project (its ``personId``, not the person), page after page."""
        read = partial(read_page, key="candidacies", ids=False)
        return self._walk(Endpoint.LIST_CANDIDACIES, read, OffsetPaging(page_size), project_id)

    def add_candidacy(self, project_id: str, person_id: str) -> CandidacyResult:
        """Add a person to a project; a person already in it is a success (SPEC R3).

        Clockwork answers 422 in that case, but also for other invalid requests, so the 422 is
        taken as "already present" only once the project's candidacies show the person.
        """
        read = partial(read_object, key="candidacy")
        body = candidacy_body(person_id=person_id)
        try:
            candidacy = self._send(Endpoint.ADD_CANDIDACY, read, project_id, body=body)
        except ClockworkValidationError as refused:
            if refused.status != 422:
                raise
            for existing in self.iter_candidacies(project_id):
                if existing.get("personId") == person_id:
                    return CandidacyResult(candidacy=existing, already_present=True)
            raise
        return CandidacyResult(candidacy=candidacy, already_present=False)

    # ── notes ──

    def iter_notes(self, person_id: str, *, page_size: int = MAX_PAGE_SIZE) -> Iterator[JSONObject]:
        """Every note of a person, page after page."""
        read = partial(read_page, key="notes")
        return self._walk(Endpoint.LIST_NOTES, read, OffsetPaging(page_size), person_id)

    def create_note(
        self, person_id: str, *, content_html: str, category: str = "Email"
    ) -> JSONObject:
        """Write an HTML note on a person (email activity is recorded this way)."""
        body = note_body(content_html=content_html, category=category)
        return self._send(
            Endpoint.CREATE_NOTE, partial(read_identified, key="note"), person_id, body=body
        )

    # ── paging, then the one boundary with HTTP ──

    def _walk(
        self,
        endpoint: Endpoint,
        read_page: Callable[[Any], Page],
        paging: Paging,
        resource_id: str | None = None,
        *,
        extra_params: Mapping[str, str] | None = None,
    ) -> Iterator[JSONObject]:
        """Every item of a list endpoint, requesting pages as ``paging`` says, at most
        ``MAX_PAGES`` of them (``ClockworkUnexpectedResponse`` past that: a listing that never
        ends is a broken or hostile server, not data)."""
        params: dict[str, int] | None = paging.first()
        pages = 0
        while params is not None:
            if pages == MAX_PAGES:
                route = endpoint.value
                raise ClockworkUnexpectedResponse(
                    f"the listing did not end after {MAX_PAGES} pages",
                    method=route.method,
                    path_template=route.path_template,
                )
            query: dict[str, str | int] = {**(extra_params or {}), **params}
            page = self._send(endpoint, read_page, resource_id, params=query)
            pages += 1
            yield from page.items
            params = paging.next(params, page)

    def _send(
        self,
        endpoint: Endpoint,
        read: Callable[[Any], T],
        resource_id: str | None = None,
        *,
        params: Mapping[str, str | int] | None = None,
        body: JSONObject | None = None,
    ) -> T:
        """Make one request, report it to ``on_call``, and return ``read(json)`` or raise.

        This is the only place where httpx exceptions and HTTP statuses become domain errors.
        """
        route = endpoint.value
        context = _RequestContext(method=route.method, path_template=route.path_template)
        try:
            path = route.path(resource_id)
        except ValueError as exc:  # an id that came from an answer and is not a Clockwork id
            raise ClockworkUnexpectedResponse(self._redact(str(exc)), **context) from None
        content = json.dumps(body).encode() if body is not None else None
        query = urlencode(params) if params else None
        if self._pacer is not None:
            stop = self._stop_at() if self._stop_at is not None else None
            if stop is not None and time.monotonic() >= stop:  # nor wait for the pacer then
                raise ClockworkCancelled("not sent: the run's stop time has come", **context)
            self._pacer.acquire()
        deadline, stop = self._deadline()

        at = self._clock()
        started = time.perf_counter()
        status: int | None = None
        result: Any = None
        error: ClockworkError | None = None
        cause: Exception | None = None
        try:
            if deadline <= time.monotonic():
                raise ClockworkCancelled("not sent: the run's stop time has come", **context)
            answer = self._exchange(route.method, path, query, content, deadline)
        except (TransportTimeout, httpx.TimeoutException) as exc:
            cause = exc
            cut_by_stop = stop is not None and time.monotonic() >= stop - 0.05
            error_class = ClockworkCancelled if cut_by_stop else ClockworkTimeout
            error = error_class(self._describe_exception(exc), **context)
        except (TransportError, httpx.RequestError) as exc:
            cause = exc
            error = ClockworkNetworkError(self._describe_exception(exc), **context)
        except AnswerTooLarge as exc:
            error = ClockworkUnexpectedResponse(str(exc), status=exc.status, **context)
        except ClockworkError as exc:
            error = exc
        else:
            status = answer.status
            self._local.server_date = answer.headers.get("date")
            if 200 <= status < 300:
                try:
                    result = read(json.loads(answer.body) if answer.body else {})
                except ValueError as exc:  # JSON decoding and ShapeError
                    cause = exc
                    message = self._redact(f"response is not the contract's JSON: {exc}")
                    error = ClockworkUnexpectedResponse(message, status=status, **context)
            else:
                error = self._error_for_response(answer, route)
        latency_ms = (time.perf_counter() - started) * 1000

        if self._on_call is not None:
            self._on_call(
                CallRecord(
                    method=route.method,
                    path_template=route.path_template,
                    status=status,
                    latency_ms=latency_ms,
                    error=error.message if error is not None else None,
                    at=at,
                )
            )
        if self._pacer is not None:
            if isinstance(error, ClockworkRateLimited):
                self._pacer.throttled(error.retry_after)
            elif status is not None:
                self._pacer.answered()
        if error is None:
            return result
        raise error from cause

    def _deadline(self) -> tuple[float, float | None]:
        """When the next request must be answered by, and the caller's stop time if any."""
        deadline = time.monotonic() + self._deadline_seconds
        stop = self._stop_at() if self._stop_at is not None else None
        return (deadline if stop is None else min(deadline, stop)), stop

    def _exchange(
        self, method: str, path: str, query: str | None, content: bytes | None, deadline: float
    ) -> Answer:
        """Send one request and return its whole answer by ``deadline``, through our own
        transport or, when one was given (tests, an unusual proxy), an httpx transport."""
        if self._http is not None:
            target = f"{self._prefix}{path}?{query}" if query else f"{self._prefix}{path}"
            headers = self._read_head if content is None else self._write_head
            return self._http.send(method, target, headers, content, deadline)
        assert self._httpx is not None
        with request_deadline(deadline):
            request = httpx.Request(
                method,
                _url_under(self._base, path, query),
                headers=self._read_headers if content is None else self._write_headers,
                content=content,
                extensions=self._extensions,
            )
            return _httpx_answer(self._httpx, request, deadline)

    def _error_for_response(self, answer: Answer, route: Route) -> ClockworkError:
        """The domain error of a non-2xx answer, per ``STATUS_ERRORS``."""
        status = answer.status
        retry_after = parse_retry_after(answer.headers.get("retry-after"), now=self._clock())
        message, field_errors = self._describe_error_body(answer)
        error_class = error_class_for(status, has_retry_after=retry_after is not None)
        context = _RequestContext(method=route.method, path_template=route.path_template)
        if issubclass(error_class, ClockworkRateLimited):
            return error_class(message, retry_after=retry_after, status=status, **context)
        if issubclass(error_class, ClockworkValidationError):
            return error_class(message, field_errors=field_errors, status=status, **context)
        return error_class(message, status=status, **context)

    def _describe_error_body(self, answer: Answer) -> tuple[str, dict[str, list[str]]]:
        """The API's ``error`` and ``errors`` messages, or a short excerpt of a non-JSON body."""
        content = answer.body
        try:
            payload = json.loads(content)
        except ValueError:
            payload = None
        field_errors: dict[str, list[str]] = {}
        parts: list[str] = []
        if isinstance(payload, dict):
            if payload.get("error"):
                parts.append(str(payload["error"]))
            errors = payload.get("errors")
            if isinstance(errors, dict):
                for field_name, messages in errors.items():
                    listed = messages if isinstance(messages, list) else [messages]
                    field_errors[str(field_name)] = [str(message) for message in listed]
                    for message in listed:
                        text = f"{field_name} {message}"
                        if not any(text in part for part in parts):  # often repeated in "error"
                            parts.append(text)
            elif isinstance(errors, list):
                parts.extend(str(message) for message in errors)
        elif text := _text(content, answer.charset).strip():
            parts.append(" ".join(text.split()))
        message = "; ".join(parts) or f"HTTP {answer.status} {answer.reason}".rstrip()
        redacted_fields = {
            self._redact(name): [self._redact(message) for message in messages]
            for name, messages in field_errors.items()
        }
        return self._redact(message), redacted_fields

    def _describe_exception(self, exc: Exception) -> str:
        detail = str(exc)
        return self._redact(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)

    def _redact(self, text: str) -> str:
        """``text`` without any credential or control character (a hostile answer's terminal
        escapes or line breaks would rewrite a log line), cut to ``MAX_MESSAGE_CHARS``."""
        for secret in self._secrets:
            text = text.replace(secret, "****")
        text = printable(text)
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[: MAX_MESSAGE_CHARS - 1] + "…"
        return text


def _email_addresses(person: JSONObject) -> set[str]:
    """Every address of a person, normalized: its ``emails`` and its preferred address."""
    emails = person.get("emails") or []
    addresses = [entry.get("address") for entry in emails if isinstance(entry, dict)]
    addresses.append(person.get("preferredEmailAddress"))
    return {normalize_email(address) for address in addresses if isinstance(address, str)}


def _oldest_first(person: JSONObject) -> datetime:
    """Sort key: ``createdAt``, unreadable dates last. Timestamps have whole seconds, so ties
    are common; the sort being stable, tied people keep the order the search returned them in."""
    created_at = person.get("createdAt")
    try:
        if isinstance(created_at, str):
            return as_utc(datetime.fromisoformat(created_at))
    except ValueError:
        pass
    return datetime.max.replace(tzinfo=UTC)


def _http_date(value: str | None) -> datetime | None:
    """An HTTP ``Date`` header as an aware datetime (None if absent or unreadable)."""
    if not value:
        return None
    try:
        return as_utc(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


# What httpx.Client sent besides the contract's headers: a compressed answer is still welcome.
_WIRE_HEADERS: Final = {"Accept-Encoding": "gzip, deflate", "User-Agent": "cwsync"}


def _url_under(base: httpx.URL, path: str, query: str | None) -> httpx.URL:
    """``base`` + ``path`` (a contract path, nothing to escape) + ``query`` (encoded), without
    parsing the result again: parsing costs more than the rest of building a request."""
    parts = getattr(base, "_uri_reference", None)
    if parts is None or not hasattr(parts, "_replace"):  # another httpx: parse it
        return httpx.URL(f"{base}{path}" + (f"?{query}" if query else ""))
    url = httpx.URL.__new__(httpx.URL)
    url._uri_reference = parts._replace(path=parts.path + path, query=query)
    return url


@cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every firm's connections (building one reads the CA bundle: ~50 ms)."""
    return httpx.create_ssl_context()


def _default_transport(
    credentials: Credentials, timeout: httpx.Timeout
) -> HTTPTransport | httpx.BaseTransport:
    """Our pooled transport to the firm's host, through the proxy the environment names for it
    (HTTPS_PROXY, NO_PROXY...) as httpx.Client would; httpx's, with the same per-request
    deadlines, for a proxy ours does not speak (https://, socks)."""
    url = httpx.URL(credentials.base_url)
    proxies = getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if proxy and proxy_bypass(url.host):
        proxy = None
    if proxy and not proxy.lower().startswith("http://"):
        return deadline_transport(verify=_ssl_context(), proxy=proxy)
    return HTTPTransport(
        credentials.base_url,
        ssl_context=_ssl_context() if url.scheme == "https" else None,
        proxy=proxy or None,
        connect_timeout=timeout.connect,
        read_timeout=timeout.read,
        write_timeout=timeout.write,
        max_response_bytes=MAX_RESPONSE_BYTES,
    )


def _httpx_answer(
    transport: httpx.BaseTransport, request: httpx.Request, deadline: float
) -> Answer:
    """Send ``request`` through an httpx transport; its whole answer, refusing one over
    ``MAX_RESPONSE_BYTES`` (counted decoded, so a compressed bomb is refused too)."""
    response = transport.handle_request(request)
    try:
        size = 0
        chunks: list[bytes] = []
        for chunk in response.iter_bytes():
            if time.monotonic() > deadline:  # also where no socket enforces it (tests)
                raise httpx.ReadTimeout("the request's overall deadline passed", request=request)
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise AnswerTooLarge(
                    f"answer larger than {MAX_RESPONSE_BYTES:,} bytes, not read",
                    status=response.status_code,
                )
            chunks.append(chunk)
    finally:
        response.close()
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        name = name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return Answer(response.status_code, response.reason_phrase, headers, b"".join(chunks))


def _text(content: bytes, charset: str | None) -> str:
    try:
        return content.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return content.decode("utf-8", errors="replace")

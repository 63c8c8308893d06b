"""The simulator's one request handler, independent of any transport.

`Simulator.handle` takes a `SimRequest` (method, path, query, headers, raw body) and returns a
`SimResponse` (status, headers, JSON body, plus the fault to carry out). It routes the exact
endpoint table of ``shared/clockwork_api.md``, authenticates, validates request shapes, applies
the fault decision and calls `SimulatorState`; every answer carries a ``Date`` header read from
the state's clock, so a client can read Clockwork's own time. Anything outside the contract — a route, a
method, a query parameter or a body field — is rejected and logged, so a client bug is loud.
The Starlette app and `httpx.MockTransport` are thin adapters around it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from clockwork_simulator.faults import NO_FAULT, FaultDecision, FaultInjector
from clockwork_simulator.state import (
    RecordInvalid,
    SimulatorState,
    UnknownFirm,
    UnknownRecord,
)

__all__ = ["API_PREFIX", "ROUTE_TEMPLATES", "SimRequest", "SimResponse", "Simulator"]

logger = logging.getLogger(__name__)

JSON = dict[str, Any]

API_PREFIX = "/v3.0/"
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25


@dataclass(frozen=True, slots=True)
class SimRequest:
    """One HTTP request as the simulator sees it; header names must be lower-case."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class SimResponse:
    """The answer, plus the fault the transport must carry out when sending it."""

    status: int
    body: JSON | None
    headers: Mapping[str, str] = field(default_factory=dict)
    fault: FaultDecision = NO_FAULT

    def content(self) -> bytes:
        """The body serialised as compact UTF-8 JSON (empty for no body)."""
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


class _Reject(Exception):
    """Short-circuits a handler with a ready error response."""

    def __init__(self, response: SimResponse) -> None:
        super().__init__(response.status)
        self.response = response


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> SimResponse:
    return SimResponse(status, {"error": message}, headers or {})


def _invalid(field_name: str, message: str) -> SimResponse:
    return SimResponse(
        422,
        {"error": f"Validation failed: {field_name} {message}", "errors": {field_name: [message]}},
    )


@dataclass(frozen=True, slots=True)
class _Call:
    """What an endpoint handler gets: the firm, the id in the path, query and parsed body."""

    firm: str
    path_id: str | None
    query: Mapping[str, str]
    fields: Mapping[str, Any]


_Action = Callable[["Simulator", _Call], SimResponse]


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    template: str
    query: frozenset[str]
    action: _Action
    body_key: str | None = None
    body_fields: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))


class Simulator:
    """Serves the Clockwork contract over a `SimulatorState`, injecting `FaultInjector` faults."""

    def __init__(self, state: SimulatorState, faults: FaultInjector | None = None) -> None:
        self.state = state
        self.faults = faults or FaultInjector()
        self._date: tuple[datetime | None, str] = (None, "")

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request; never raises for anything a client can send."""
        response = self._answer(request)
        return replace(response, headers={**response.headers, "Date": self.http_date()})

    def http_date(self) -> str:
        """The state's clock as an RFC 7231 HTTP date (``Sun, 06 Nov 1994 08:49:37 GMT``)."""
        now = self.state.now().astimezone(UTC).replace(microsecond=0)
        cached = self._date
        if cached[0] != now:  # formatting costs more than the rest of a small answer's headers
            cached = self._date = (now, format_datetime(now, usegmt=True))
        return cached[1]

    def _answer(self, request: SimRequest) -> SimResponse:
        parsed = _parse_path(request.path)
        if parsed is None:
            return _outside_contract(request, allowed=())
        firm, segments = parsed
        route, path_id, allowed = _match(request.method, segments)
        if route is None:
            return _outside_contract(request, allowed=allowed)
        if not self.state.has_firm(firm):
            return _error(404, f"unknown firm: {firm}")
        self.state.count_request(firm, route.key)

        fault = self.faults.decide(firm)
        if fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            message = "rate limit exceeded" if fault.status == 429 else "injected server error"
            self.state.record_answer(firm, fault.status, None)
            return SimResponse(fault.status, {"error": message}, headers, fault)
        try:
            self._authenticate(firm, request.headers)
            call = _Call(firm, path_id, _check_query(route, request), _read_body(route, request))
            response = route.action(self, call)
        except _Reject as rejected:
            response = rejected.response
        except RecordInvalid as invalid:
            response = _invalid(invalid.field, invalid.message)
        except UnknownRecord as missing:
            response = _error(404, str(missing))
        except UnknownFirm as missing:  # the firm was removed while this request ran
            response = _error(404, str(missing))
        self.state.record_answer(firm, response.status, _fault_kind(fault))
        if fault is NO_FAULT:
            return response
        return SimResponse(response.status, response.body, response.headers, fault)

    def _authenticate(self, firm: str, headers: Mapping[str, str]) -> None:
        service_key = headers.get("x-api-key")
        if not service_key:
            raise _unauthorized("missing X-API-Key header (firm service key)")
        authorization = headers.get("authorization")
        if not authorization:
            raise _unauthorized("missing Authorization header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("token", "bearer"):
            raise _unauthorized("Authorization scheme must be Token (Bearer is also accepted)")
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise _unauthorized("Authorization token is not base64(api_key:api_secret)") from None
        api_key, colon, api_secret = decoded.partition(":")
        if not colon:
            raise _unauthorized("Authorization token is not base64(api_key:api_secret)")
        reason = self.state.authenticate(
            firm, firm_service_key=service_key, api_key=api_key, api_secret=api_secret
        )
        if reason is not None:
            raise _unauthorized(reason)

    # -- endpoints ----------------------------------------------------------------------------

    def _list_people(self, call: _Call) -> SimResponse:
        limit, offset = _limit(call.query), _offset(call.query)
        return SimResponse(
            200, {"people": self.state.list_people(call.firm, limit=limit, offset=offset)}
        )

    def _search_people(self, call: _Call) -> SimResponse:
        if "q" not in call.query:
            raise _Reject(_invalid("q", "is required"))
        limit = _limit(call.query)
        page = _int_param(call.query, "page", default=1, minimum=1)
        people, total = self.state.search_people(call.firm, call.query["q"], limit=limit, page=page)
        return SimResponse(200, {"peopleSearch": people, "meta": {"total": total, "page": page}})

    def _get_person(self, call: _Call) -> SimResponse:
        return SimResponse(200, {"person": self.state.get_person(call.firm, _id(call))})

    def _create_person(self, call: _Call) -> SimResponse:
        person = self.state.create_person(
            call.firm,
            name=call.fields.get("name"),
            first_name=call.fields.get("firstName"),
            last_name=call.fields.get("lastName"),
        )
        return SimResponse(201, {"person": person})

    def _add_email(self, call: _Call) -> SimResponse:
        address = _required(call.fields, "address")
        email = self.state.add_email(
            call.firm, _id(call), address=address, location=call.fields.get("location") or "work"
        )
        return SimResponse(200, {"personEmailAddress": email})

    def _add_position(self, call: _Call) -> SimResponse:
        position = self.state.add_position(
            call.firm,
            _id(call),
            title=call.fields.get("title"),
            company_name=call.fields.get("companyName"),
        )
        return SimResponse(200, {"position": position})

    def _add_linkedin_url(self, call: _Call) -> SimResponse:
        url = _required(call.fields, "url")
        link = self.state.add_linkedin_url(call.firm, _id(call), url=url)
        return SimResponse(200, {"personLinkedinUrl": link})

    def _list_projects(self, call: _Call) -> SimResponse:
        limit, offset = _limit(call.query), _offset(call.query)
        return SimResponse(
            200, {"projects": self.state.list_projects(call.firm, limit=limit, offset=offset)}
        )

    def _list_candidacies(self, call: _Call) -> SimResponse:
        include = call.query.get("include")
        if include not in (None, "person"):
            raise _Reject(_invalid("include", "must be 'person'"))
        candidacies = self.state.list_candidacies(
            call.firm,
            _id(call),
            limit=_limit(call.query),
            offset=_offset(call.query),
            include_person=include == "person",
        )
        return SimResponse(200, {"candidacies": candidacies})

    def _add_candidacy(self, call: _Call) -> SimResponse:
        person_id = _required(call.fields, "person_id")
        candidacy = self.state.add_candidacy(call.firm, _id(call), person_id=person_id)
        return SimResponse(201, {"candidacy": candidacy})

    def _list_notes(self, call: _Call) -> SimResponse:
        notes = self.state.list_notes(
            call.firm, _id(call), limit=_limit(call.query), offset=_offset(call.query)
        )
        return SimResponse(200, {"notes": notes})

    def _create_note(self, call: _Call) -> SimResponse:
        note = self.state.create_note(
            call.firm,
            _id(call),
            content=_required(call.fields, "content"),
            content_type=call.fields.get("contentType") or "text/html",
            category=call.fields.get("category"),
        )
        return SimResponse(201, {"note": note})

    def _list_statuses(self, call: _Call) -> SimResponse:
        return SimResponse(200, {"statuses": self.state.list_statuses(call.firm)})


_PAGED = frozenset({"limit", "offset"})

_ROUTES: tuple[_Route, ...] = (
    _Route("GET", "/people", _PAGED, Simulator._list_people),
    _Route(
        "POST",
        "/people",
        frozenset(),
        Simulator._create_person,
        "person",
        frozenset({"name", "firstName", "lastName"}),
    ),
    _Route("GET", "/people_search", frozenset({"q", "limit", "page"}), Simulator._search_people),
    _Route("GET", "/people/{id}", frozenset(), Simulator._get_person),
    _Route(
        "POST",
        "/people/{id}/email_addresses",
        frozenset(),
        Simulator._add_email,
        "email",
        frozenset({"address", "location"}),
    ),
    _Route(
        "POST",
        "/people/{id}/positions",
        frozenset(),
        Simulator._add_position,
        "position",
        frozenset({"title", "companyName"}),
    ),
    _Route(
        "POST",
        "/people/{id}/linkedin_urls",
        frozenset(),
        Simulator._add_linkedin_url,
        "linkedin_url",
        frozenset({"url"}),
    ),
    _Route("GET", "/people/{id}/notes", _PAGED, Simulator._list_notes),
    _Route(
        "POST",
        "/people/{id}/notes",
        frozenset(),
        Simulator._create_note,
        "note",
        frozenset({"content", "contentType", "category"}),
    ),
    _Route("GET", "/projects", _PAGED, Simulator._list_projects),
    _Route(
        "GET",
        "/projects/{id}/candidacies",
        _PAGED | {"include"},
        Simulator._list_candidacies,
    ),
    _Route(
        "POST",
        "/projects/{id}/candidacies",
        frozenset(),
        Simulator._add_candidacy,
        "candidacy",
        frozenset({"person_id"}),
    ),
    _Route("GET", "/statuses", frozenset(), Simulator._list_statuses),
)
_ROUTE_SEGMENTS = tuple((route, route.segments) for route in _ROUTES)

ROUTE_TEMPLATES: tuple[str, ...] = tuple(route.key for route in _ROUTES)
"""Every ``"METHOD /template"`` of the contract, the keys of `SimulatorState.request_counts`."""


def _fault_kind(fault: FaultDecision) -> str | None:
    """How the answer is spoilt in transit, if it is: "drop", "slow" or "drip"."""
    if fault.drop:
        return "drop"
    if fault.slow:
        return "slow"
    if fault.drip:
        return "drip"
    return None


def _parse_path(path: str) -> tuple[str, list[str]] | None:
    """Split ``/v3.0/{firm}/rest/of/path`` into the firm and the rest's segments."""
    if not path.startswith(API_PREFIX):
        return None
    firm, _, rest = path[len(API_PREFIX) :].partition("/")
    if not firm or not rest:
        return None
    return firm, rest.split("/")


def _match(method: str, segments: list[str]) -> tuple[_Route | None, str | None, list[str]]:
    """The route for (method, segments), the id in the path, and the methods the path allows."""
    allowed: list[str] = []
    for route, template in _ROUTE_SEGMENTS:
        if len(template) != len(segments):
            continue
        path_id = None
        for expected, actual in zip(template, segments, strict=True):
            if expected == "{id}":
                if not actual:
                    break
                path_id = actual
            elif expected != actual:
                break
        else:
            if route.method == method:
                return route, path_id, allowed
            allowed.append(route.method)
    return None, None, allowed


def _outside_contract(request: SimRequest, *, allowed: tuple[str, ...] | list[str]) -> SimResponse:
    message = f"route outside the Clockwork contract: {request.method} {request.path}"
    logger.warning("Clockwork simulator: %s", message)
    if allowed:
        return _error(405, message, {"Allow": ", ".join(allowed)})
    return _error(404, message)


def _unauthorized(reason: str) -> _Reject:
    return _Reject(_error(401, reason, {"WWW-Authenticate": "Token"}))


def _check_query(route: _Route, request: SimRequest) -> Mapping[str, str]:
    unknown = sorted(set(request.query) - route.query)
    if unknown:
        message = "is not a parameter of this endpoint in the Clockwork contract"
        logger.warning(
            "Clockwork simulator: query parameter(s) %s outside the contract on %s",
            unknown,
            route.key,
        )
        raise _Reject(_invalid(unknown[0], message))
    return request.query


def _read_body(route: _Route, request: SimRequest) -> Mapping[str, Any]:
    """The fields inside the route's wrapper key (``{"person": {...}}``), checked for shape."""
    if route.body_key is None:
        return {}
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise _Reject(_error(415, "Content-Type must be application/json"))
    try:
        document = json.loads(request.body)
    except ValueError:
        raise _Reject(_error(400, "request body is not valid JSON")) from None
    if not isinstance(document, dict) or not isinstance(document.get(route.body_key), dict):
        raise _Reject(_invalid(route.body_key, "is required and must be an object"))
    extra = sorted(set(document) - {route.body_key})
    fields = document[route.body_key]
    extra += sorted(f"{route.body_key}.{name}" for name in set(fields) - route.body_fields)
    if extra:
        logger.warning(
            "Clockwork simulator: body field(s) %s outside the contract on %s", extra, route.key
        )
        raise _Reject(_invalid(extra[0], "is not part of the Clockwork contract"))
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise _Reject(_invalid(name, "must be a string"))
    return fields


def _required(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if not value or not value.strip():
        raise _Reject(_invalid(name, "can't be blank"))
    return str(value)


def _id(call: _Call) -> str:
    assert call.path_id is not None
    return call.path_id


def _int_param(
    query: Mapping[str, str], name: str, *, default: int, minimum: int, maximum: int | None = None
) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _Reject(_invalid(name, "must be an integer")) from None
    if value < minimum:
        raise _Reject(_invalid(name, f"must be at least {minimum}"))
    if maximum is not None and value > maximum:
        raise _Reject(_invalid(name, f"must be at most {maximum}"))
    return value


def _limit(query: Mapping[str, str]) -> int:
    return _int_param(query, "limit", default=DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE)


def _offset(query: Mapping[str, str]) -> int:
    return _int_param(query, "offset", default=0, minimum=0)

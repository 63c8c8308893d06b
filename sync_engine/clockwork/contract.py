"""Clockwork's v3.0 REST API as ``shared/clockwork_api.md`` describes it: every route the client
sends, with its mark there ([C] confirmed, [P] probable, [G] our guess), the request bodies and
queries, how a listing pages, the JSON shapes answers must have, and the status → error table
with ``Retry-After``. No I/O: :class:`~sync_engine.clockwork.client.ClockworkClient` sends these.

Review this module against the document; correct a [G] route here after first contact with a
real firm (callers never see paths or bodies).
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, Final, Literal, NamedTuple, Protocol

from sync_engine.clockwork.errors import (
    ClockworkAuthError,
    ClockworkConflict,
    ClockworkError,
    ClockworkNotFound,
    ClockworkRateLimited,
    ClockworkServerError,
    ClockworkTimeout,
    ClockworkUnexpectedResponse,
    ClockworkValidationError,
)

JSONObject = dict[str, Any]

MAX_PAGE_SIZE: Final = 100
MAX_PAGES: Final = 100
"""A listing reads at most this many pages: 10,000 people, notes or candidacies."""
MAX_RETRY_AFTER_SECONDS: Final = 3600.0

# ── routes, headers, bodies and queries ──────────────────────────────────────────────────────

API_VERSION_PREFIX: Final = "/v3.0"
_RESOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


@dataclass(frozen=True)
class Route:
    """One endpoint of the contract: method, path template relative to the firm base, mark."""

    method: Literal["GET", "POST"]
    path_template: str
    mark: Literal["C", "P", "G"]

    def path(self, resource_id: str | None = None) -> str:
        """The concrete path, with ``{id}`` replaced by ``resource_id`` (validated, not escaped:
        ids are UUIDs, so anything else is refused rather than sent)."""
        if "{id}" not in self.path_template:
            return self.path_template
        if resource_id is None or not _RESOURCE_ID.fullmatch(resource_id):
            raise ValueError(f"{resource_id!r} is not a Clockwork id (expected a UUID string)")
        return self.path_template.replace("{id}", resource_id)


class Endpoint(Enum):
    """The routes of the contract table the client sends (``GET /statuses`` has no caller);
    the credentials check is ``LIST_PEOPLE`` with limit 1."""

    LIST_PEOPLE = Route("GET", "/people", "C")
    SEARCH_PEOPLE = Route("GET", "/people_search", "C")
    GET_PERSON = Route("GET", "/people/{id}", "G")
    CREATE_PERSON = Route("POST", "/people", "P")
    ADD_EMAIL = Route("POST", "/people/{id}/email_addresses", "P")
    ADD_POSITION = Route("POST", "/people/{id}/positions", "P")
    ADD_LINKEDIN_URL = Route("POST", "/people/{id}/linkedin_urls", "P")
    LIST_PROJECTS = Route("GET", "/projects", "P")
    LIST_CANDIDACIES = Route("GET", "/projects/{id}/candidacies", "P")
    ADD_CANDIDACY = Route("POST", "/projects/{id}/candidacies", "G")
    LIST_NOTES = Route("GET", "/people/{id}/notes", "P")
    CREATE_NOTE = Route("POST", "/people/{id}/notes", "G")


ACCEPT_HEADERS: Final = {"Accept": "application/json"}
"""Sent on every request [C]; ``Content-Type`` is added on writes only."""


def person_body(*, first_name: str, last_name: str, name: str) -> JSONObject:
    """Body of ``CREATE_PERSON`` [P]."""
    return {"person": {"name": name, "firstName": first_name, "lastName": last_name}}


def email_body(*, address: str, location: str) -> JSONObject:
    """Body of ``ADD_EMAIL`` [P]."""
    return {"email": {"address": address, "location": location}}


def position_body(*, title: str, company_name: str) -> JSONObject:
    """Body of ``ADD_POSITION`` [P]."""
    return {"position": {"title": title, "companyName": company_name}}


def linkedin_url_body(*, url: str) -> JSONObject:
    """Body of ``ADD_LINKEDIN_URL`` [P]."""
    return {"linkedin_url": {"url": url}}


def candidacy_body(*, person_id: str) -> JSONObject:
    """Body of ``ADD_CANDIDACY`` [G]."""
    return {"candidacy": {"person_id": person_id}}


def note_body(*, content_html: str, category: str) -> JSONObject:
    """Body of ``CREATE_NOTE`` [G]."""
    return {"note": {"content": content_html, "contentType": "text/html", "category": category}}


def offset_params(*, limit: int, offset: int) -> dict[str, int]:
    """Query of the ``limit`` + ``offset`` lists [C]; page size at most 100 [G]."""
    _check_page_size(limit)
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    return {"limit": limit, "offset": offset}


# ── status → error, applied once in ClockworkClient._send (first matching row wins) ──────────


class StatusRule(NamedTuple):
    """A row of the status table: which statuses raise which error."""

    statuses: Container[int]
    error: type[ClockworkError]
    only_with_retry_after: bool = False


STATUS_ERRORS: Final[tuple[StatusRule, ...]] = (
    StatusRule({401, 403}, ClockworkAuthError),
    StatusRule({404}, ClockworkNotFound),
    StatusRule({408}, ClockworkTimeout),
    StatusRule({409}, ClockworkConflict),
    StatusRule({429}, ClockworkRateLimited),
    StatusRule({503}, ClockworkRateLimited, only_with_retry_after=True),
    StatusRule(range(500, 600), ClockworkServerError),
    StatusRule(range(400, 500), ClockworkValidationError),
)
"""Statuses matching no row (3xx, anything exotic) raise ``ClockworkUnexpectedResponse``."""


def error_class_for(status: int, *, has_retry_after: bool) -> type[ClockworkError]:
    """The error a non-2xx ``status`` raises, per ``STATUS_ERRORS``."""
    for rule in STATUS_ERRORS:
        if status in rule.statuses and (has_retry_after or not rule.only_with_retry_after):
            return rule.error
    return ClockworkUnexpectedResponse


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, given as seconds or as an HTTP date.

    The result is clamped to [0, 3600]; None when the header is absent or unreadable. A naive
    ``now`` or date is taken as UTC.
    """
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = (as_utc(when) - as_utc(now)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


# ── paging strategies ─────────────────────────────────────────────────────────────────────────


class Page(NamedTuple):
    """The items of one page and, when the endpoint reports it, the total across pages."""

    items: list[JSONObject]
    total: int | None = None


class Paging(Protocol):
    """How a list endpoint pages: the first query, then the next one after each page."""

    def first(self) -> dict[str, int]:
        """Paging parameters of the first request."""
        ...

    def next(self, params: Mapping[str, int], page: Page) -> dict[str, int] | None:
        """Paging parameters of the request after ``page``, or None when it was the last."""
        ...


@dataclass(frozen=True)
class OffsetPaging:
    """``limit`` + ``offset`` paging; a page shorter than ``limit`` is the last one."""

    limit: int = MAX_PAGE_SIZE

    def first(self) -> dict[str, int]:
        """Start at offset 0."""
        return offset_params(limit=self.limit, offset=0)

    def next(self, params: Mapping[str, int], page: Page) -> dict[str, int] | None:
        """Advance the offset by the page's length, unless the page was short."""
        if len(page.items) < self.limit:
            return None
        return offset_params(limit=self.limit, offset=params["offset"] + len(page.items))


@dataclass(frozen=True)
class PagePaging:
    """``limit`` + 1-based ``page`` paging; stops once ``total`` is covered or a page is empty."""

    limit: int = MAX_PAGE_SIZE

    def first(self) -> dict[str, int]:
        """Start at page 1."""
        return {"limit": self.limit, "page": 1}

    def next(self, params: Mapping[str, int], page: Page) -> dict[str, int] | None:
        """The following page, while the pages read so far cover less than ``total``."""
        if not page.items:
            return None
        covered = params["page"] * self.limit
        if (page.total is None and len(page.items) < self.limit) or (
            page.total is not None and covered >= page.total
        ):
            return None
        return {"limit": self.limit, "page": params["page"] + 1}


# ── response readers: the JSON shapes the contract promises ─────────────────────────────────


class ShapeError(ValueError):
    """A 2xx body that is not the shape the contract describes."""


def read_nothing(payload: Any) -> None:
    """For a call whose answer only matters by its status (the credentials check)."""
    return None


def is_resource_id(value: object) -> bool:
    """Whether ``value`` can be a Clockwork id (a UUID string; safe to put into a path)."""
    return isinstance(value, str) and _RESOURCE_ID.fullmatch(value) is not None


def _checked_id(item: JSONObject, what: str) -> JSONObject:
    if not is_resource_id(item.get("id")):
        raise ShapeError(f"{what} has no valid id (got {str(item.get('id'))[:40]!r})")
    return item


def read_object(payload: Any, *, key: str) -> JSONObject:
    """``{key: {...}}``; a bare object with an ``id`` is accepted too. The id, when there is
    one, must be a Clockwork id."""
    if isinstance(payload, dict):
        wrapped = payload.get(key)
        if isinstance(wrapped, dict):
            return _checked_id(wrapped, key) if "id" in wrapped else wrapped
        if isinstance(payload.get("id"), str):
            return _checked_id(payload, key)
    raise ShapeError(f"expected a {key!r} object")


def read_identified(payload: Any, *, key: str) -> JSONObject:
    """Like :func:`read_object`, and the object must have an id (a person, a note)."""
    return _checked_id(read_object(payload, key=key), key)


def _read_items(payload: Any, *, key: str, ids: bool = True) -> list[JSONObject]:
    """``{key: [{...}, ...]}``; null counts as an empty list; with ``ids``, each item's id must
    be a Clockwork id."""
    if not isinstance(payload, dict) or key not in payload:
        raise ShapeError(f"expected an object with a {key!r} list")
    items = payload[key]
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ShapeError(f"expected {key!r} to be a list of objects")
    if ids:
        for item in items:
            _checked_id(item, f"an item of {key!r}")
    return items


def read_page(payload: Any, *, key: str, ids: bool = True) -> Page:
    """One page of a ``limit`` + ``offset`` listing: ``{key: [...]}``."""
    return Page(_read_items(payload, key=key, ids=ids))


def read_search_page(payload: Any) -> Page:
    """One page of a people search: ``{"peopleSearch": [...], "meta": {"total": n, "page": p}}``,
    with a total no search could read past refused."""
    people = _read_items(payload, key="peopleSearch")
    meta = payload.get("meta")
    total = meta.get("total") if isinstance(meta, dict) else None
    if not isinstance(total, int) or isinstance(total, bool):
        raise ShapeError("expected meta.total to be an integer")
    if not 0 <= total <= MAX_PAGES * MAX_PAGE_SIZE:
        raise ShapeError(
            f"meta.total {total} is outside 0..{MAX_PAGES * MAX_PAGE_SIZE}, the most a search reads"
        )
    return Page(people, total)


def _check_page_size(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")


def as_utc(moment: datetime) -> datetime:
    """``moment``, a naive one taken as UTC (the contract's timestamps carry no zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

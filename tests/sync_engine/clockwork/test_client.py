"""Unit tests of ClockworkClient against inline `httpx.MockTransport` handlers: what goes on the
wire for each contract row, how answers and failures come back, and what the call log sees."""

from __future__ import annotations

import ast
import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sync_engine.clockwork import contract
from sync_engine.clockwork.client import (
    DEFAULT_TIMEOUT,
    CallRecord,
    CandidacyResult,
    ClockworkAuth,
    ClockworkClient,
    Credentials,
)
from sync_engine.clockwork.contract import MAX_RETRY_AFTER_SECONDS, Endpoint, parse_retry_after
from sync_engine.clockwork.errors import (
    ClockworkAuthError,
    ClockworkConflict,
    ClockworkError,
    ClockworkNetworkError,
    ClockworkNotFound,
    ClockworkPermanentError,
    ClockworkRateLimited,
    ClockworkServerError,
    ClockworkTimeout,
    ClockworkTransientError,
    ClockworkUnexpectedResponse,
    ClockworkValidationError,
)

API_KEY = "key-7f3a9c2e41d8"
API_SECRET = "secret-b6e05d9a7c13"
FIRM_SERVICE_KEY = "fsk-4c8e1b0f92aa"
CREDENTIALS = Credentials(
    firm="acme",
    api_key=API_KEY,
    api_secret=API_SECRET,
    firm_service_key=FIRM_SERVICE_KEY,
    base_url="https://clockwork.test",
)
FIRM_URL = "https://clockwork.test/v3.0/acme"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
PERSON_ID = "6a1f4a52-0c7e-4a43-9d55-2f1b7c2d0e01"
PROJECT_ID = "d3b07384-d113-4ec6-a1f2-1b9e0c3a7f10"
TOKEN = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
SECRETS = (API_KEY, API_SECRET, FIRM_SERVICE_KEY, TOKEN)

Handler = Callable[[httpx.Request], httpx.Response]


def reply(status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> Handler:
    """A handler that always answers ``status`` with ``body`` as JSON."""

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return handle


def person(
    person_id: str, *emails: str, created_at: str = "2024-01-01 00:00:00", name: str = "Ada"
) -> dict[str, Any]:
    """A Person payload as the contract describes it (empty collections are null)."""
    return {
        "id": person_id,
        "name": name,
        "firstName": name,
        "lastName": None,
        "createdAt": created_at,
        "updatedAt": created_at,
        "emails": [{"id": f"e-{address}", "address": address} for address in emails] or None,
        "preferredEmailAddress": emails[0] if emails else None,
        "positions": None,
        "linkedinUrls": None,
    }


class Recorder:
    """Serves a handler and keeps every request the client sent."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


class FakePacer:
    """Records the client's calls to the pacer protocol."""

    def __init__(self) -> None:
        self.events: list[tuple[str, float | None]] = []

    def acquire(self) -> None:
        self.events.append(("acquire", None))

    def throttled(self, retry_after: float | None) -> None:
        self.events.append(("throttled", retry_after))

    def answered(self) -> None:
        self.events.append(("answered", None))


@pytest.fixture
def make_client() -> Iterator[Callable[..., ClockworkClient]]:
    """Builds clients over a handler (fixed clock), and closes them after the test."""
    clients: list[ClockworkClient] = []

    def build(handler: Handler, **options: Any) -> ClockworkClient:
        options.setdefault("clock", lambda: NOW)
        client = ClockworkClient(CREDENTIALS, transport=httpx.MockTransport(handler), **options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


# ── credentials ──────────────────────────────────────────────────────────────────────────────


def test_credentials_repr_masks_secrets_to_their_last_four_characters() -> None:
    text = repr(CREDENTIALS)
    for secret in (API_KEY, API_SECRET, FIRM_SERVICE_KEY):
        assert secret not in text
        assert f"'****{secret[-4:]}'" in text
    assert "firm='acme'" in text
    assert str(CREDENTIALS) == text


def test_credentials_repr_shows_nothing_of_a_short_secret() -> None:
    short = Credentials(firm="acme", api_key="abc", api_secret="xy", firm_service_key="12345")
    assert "api_key='****'" in repr(short)
    assert "firm_service_key='****5'" in repr(short)


@pytest.mark.parametrize("firm", ["", "Acme", "acme.clockworkrecruiting.com", "-acme", "ac me"])
def test_credentials_refuse_a_firm_that_is_not_a_subdomain(firm: str) -> None:
    with pytest.raises(ValueError, match="login subdomain"):
        Credentials(firm=firm, api_key="k", api_secret="s", firm_service_key="f")


@pytest.mark.parametrize("bad_value", ["", "has space", "new\nline", "ünïcode"])
def test_credentials_refuse_a_secret_that_cannot_be_a_header_without_echoing_it(
    bad_value: str,
) -> None:
    with pytest.raises(ValueError, match="api_secret must be") as refused:
        Credentials(firm="acme", api_key="k", api_secret=bad_value, firm_service_key="f")
    assert bad_value not in str(refused.value) or bad_value == ""


@pytest.mark.parametrize("base_url", ["ftp://host", "clockwork.test", "https://host/?x=1"])
def test_credentials_refuse_a_base_url_that_is_not_http(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        Credentials(
            firm="acme", api_key="k", api_secret="s", firm_service_key="f", base_url=base_url
        )


def test_credentials_default_to_clockworks_production_api() -> None:
    credentials = Credentials(firm="acme", api_key="k", api_secret="s", firm_service_key="f")
    assert credentials.firm_base_url == "https://api.clockworkrecruiting.com/v3.0/acme"


# ── what goes on the wire ─────────────────────────────────────────────────────────────────────


def test_every_request_carries_the_service_key_the_token_and_accept(
    make_client: Callable[..., ClockworkClient],
) -> None:
    recorder = Recorder(reply(200, {"people": []}))
    make_client(recorder).check_credentials()

    headers = recorder.requests[0].headers
    assert headers["X-API-Key"] == FIRM_SERVICE_KEY
    scheme, token = headers["Authorization"].split(" ")
    assert scheme == "Token"
    assert base64.b64decode(token).decode() == f"{API_KEY}:{API_SECRET}"
    assert headers["Accept"] == "application/json"


def test_the_auth_signs_any_httpx_client_and_keeps_the_other_headers() -> None:
    credentials = Credentials(firm="acme", api_key="k", api_secret="s", firm_service_key="f")
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(204))
    with httpx.Client(auth=ClockworkAuth(credentials), transport=transport) as http:
        http.get("https://api.clockworkrecruiting.com/v3.0/acme/people", headers={"X-Other": "1"})
    assert seen[0].headers["X-API-Key"] == "f"
    assert seen[0].headers["Authorization"] == "Token " + base64.b64encode(b"k:s").decode()
    assert seen[0].headers["X-Other"] == "1"


def test_content_type_is_sent_on_writes_only(
    make_client: Callable[..., ClockworkClient],
) -> None:
    recorder = Recorder(reply(201, {"person": person(PERSON_ID)}))
    client = make_client(recorder)
    client.create_person(first_name="Ada", last_name="Lovelace")
    recorder.handler = reply(200, {"people": []})
    client.check_credentials()

    write, read = recorder.requests
    assert write.headers["Content-Type"] == "application/json"
    assert "Content-Type" not in read.headers


def test_urls_are_built_under_the_firm_base_even_with_a_trailing_slash(
    make_client: Callable[..., ClockworkClient],
) -> None:
    recorder = Recorder(reply(200, {"people": []}))
    credentials = Credentials(
        firm="acme", api_key="k", api_secret="s", firm_service_key="f", base_url="http://h:81/"
    )
    with ClockworkClient(credentials, transport=httpx.MockTransport(recorder)) as client:
        client.check_credentials()
    assert str(recorder.requests[0].url) == "http://h:81/v3.0/acme/people?limit=1&offset=0"


def test_default_timeout_is_explicit() -> None:
    assert httpx.Timeout(connect=5.0, read=15.0, write=15.0, pool=5.0) == DEFAULT_TIMEOUT


ANY_ANSWER: dict[str, Any] = {
    "id": "any",
    "people": [],
    "peopleSearch": [],
    "meta": {"total": 0, "page": 1},
    "projects": [],
    "candidacies": [],
    "notes": [],
}

CONTRACT_ROWS: list[tuple[str, Callable[[ClockworkClient], object], str, str, Any]] = [
    (
        "check credentials",
        lambda c: c.check_credentials(),
        "GET",
        "/people?limit=1&offset=0",
        None,
    ),
    (
        "search people",
        lambda c: list(c.iter_search("ada lovelace")),
        "GET",
        "/people_search?q=ada+lovelace&limit=100&page=1",
        None,
    ),
    ("get person", lambda c: c.get_person(PERSON_ID), "GET", f"/people/{PERSON_ID}", None),
    (
        "create person",
        lambda c: c.create_person(first_name="Ada", last_name="Lovelace"),
        "POST",
        "/people",
        {"person": {"name": "Ada Lovelace", "firstName": "Ada", "lastName": "Lovelace"}},
    ),
    (
        "create person with a name",
        lambda c: c.create_person(first_name="Ada", last_name="", name="Countess Ada"),
        "POST",
        "/people",
        {"person": {"name": "Countess Ada", "firstName": "Ada", "lastName": ""}},
    ),
    (
        "add email",
        lambda c: c.add_email(PERSON_ID, "ada@example.com"),
        "POST",
        f"/people/{PERSON_ID}/email_addresses",
        {"email": {"address": "ada@example.com", "location": "work"}},
    ),
    (
        "add position",
        lambda c: c.add_position(PERSON_ID, title="CTO", company_name="Analytical Engines"),
        "POST",
        f"/people/{PERSON_ID}/positions",
        {"position": {"title": "CTO", "companyName": "Analytical Engines"}},
    ),
    (
        "add linkedin url",
        lambda c: c.add_linkedin_url(PERSON_ID, "https://www.linkedin.com/in/ada"),
        "POST",
        f"/people/{PERSON_ID}/linkedin_urls",
        {"linkedin_url": {"url": "https://www.linkedin.com/in/ada"}},
    ),
    (
        "list projects",
        lambda c: list(c.iter_projects(page_size=10)),
        "GET",
        "/projects?limit=10&offset=0",
        None,
    ),
    (
        "list candidacies",
        lambda c: list(c.iter_candidacies(PROJECT_ID, page_size=5)),
        "GET",
        f"/projects/{PROJECT_ID}/candidacies?limit=5&offset=0",
        None,
    ),
    (
        "add candidacy",
        lambda c: c.add_candidacy(PROJECT_ID, PERSON_ID),
        "POST",
        f"/projects/{PROJECT_ID}/candidacies",
        {"candidacy": {"person_id": PERSON_ID}},
    ),
    (
        "list notes",
        lambda c: list(c.iter_notes(PERSON_ID)),
        "GET",
        f"/people/{PERSON_ID}/notes?limit=100&offset=0",
        None,
    ),
    (
        "create note",
        lambda c: c.create_note(PERSON_ID, content_html="<p>Sent</p>"),
        "POST",
        f"/people/{PERSON_ID}/notes",
        {"note": {"content": "<p>Sent</p>", "contentType": "text/html", "category": "Email"}},
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "path_and_query", "body"),
    [row[1:] for row in CONTRACT_ROWS],
    ids=[row[0] for row in CONTRACT_ROWS],
)
def test_each_method_sends_exactly_its_contract_row(
    make_client: Callable[..., ClockworkClient],
    call: Callable[[ClockworkClient], object],
    method: str,
    path_and_query: str,
    body: Any,
) -> None:
    recorder = Recorder(reply(200, ANY_ANSWER))
    call(make_client(recorder))

    (request,) = recorder.requests
    assert request.method == method
    assert str(request.url) == FIRM_URL + path_and_query
    assert (json.loads(request.content) if request.content else None) == body


def test_the_rows_above_cover_every_route_the_client_can_send() -> None:
    sent = {
        (method, path.split("?")[0].replace(PERSON_ID, "{id}").replace(PROJECT_ID, "{id}"))
        for _, _, method, path, _ in CONTRACT_ROWS
    }
    assert sent == {(e.value.method, e.value.path_template) for e in Endpoint}


def test_the_contract_module_does_no_io() -> None:
    tree = ast.parse(Path(contract.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    io = {"httpx", "httpcore", "socket", "ssl", "http.client", "urllib.request", "threading"}
    assert {name for name in imported if name.split(".")[0] in io or name in io} == set()


def test_every_route_in_the_table_carries_a_contract_mark() -> None:
    assert {endpoint.value.mark for endpoint in Endpoint} <= {"C", "P", "G"}
    guesses = {endpoint.name for endpoint in Endpoint if endpoint.value.mark == "G"}
    assert guesses == {"GET_PERSON", "ADD_CANDIDACY", "CREATE_NOTE"}


@pytest.mark.parametrize("bad_id", ["", "../statuses", "a/b", "id?x=1", "x" * 200])
def test_an_id_that_is_not_a_clockwork_id_is_refused_before_any_request(
    make_client: Callable[..., ClockworkClient], bad_id: str
) -> None:
    recorder = Recorder(reply(200, ANY_ANSWER))
    with pytest.raises(ClockworkUnexpectedResponse, match="not a Clockwork id"):
        make_client(recorder).get_person(bad_id)
    assert recorder.requests == []


@pytest.mark.parametrize("limit", [0, 101])
def test_page_sizes_above_the_contract_maximum_are_refused(
    make_client: Callable[..., ClockworkClient], limit: int
) -> None:
    with pytest.raises(ValueError, match="limit"):
        list(make_client(reply(200, ANY_ANSWER)).iter_notes(PERSON_ID, page_size=limit))


# ── answers ───────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "answer", [{"person": person(PERSON_ID)}, person(PERSON_ID)], ids=["wrapped", "bare"]
)
def test_create_person_accepts_both_response_forms(
    make_client: Callable[..., ClockworkClient], answer: dict[str, Any]
) -> None:
    created = make_client(reply(201, answer)).create_person(first_name="Ada", last_name="L")
    assert created["id"] == PERSON_ID


def test_null_collections_read_as_empty_lists(make_client: Callable[..., ClockworkClient]) -> None:
    assert list(make_client(reply(200, {"notes": None})).iter_notes(PERSON_ID)) == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"<html>ok</html>", "text/html"), (b'{"persons": []}', "application/json")],
    ids=["not json", "wrong key"],
)
def test_a_success_that_is_not_the_contracts_json_is_an_unexpected_response(
    make_client: Callable[..., ClockworkClient], content: bytes, content_type: str
) -> None:
    records: list[CallRecord] = []
    client = make_client(
        lambda request: httpx.Response(
            200, content=content, headers={"Content-Type": content_type}
        ),
        on_call=records.append,
    )
    with pytest.raises(ClockworkUnexpectedResponse) as raised:
        client.get_person(PERSON_ID)
    assert raised.value.status == 200
    assert records[0].status == 200
    assert records[0].error is not None


# ── exact-email matching ──────────────────────────────────────────────────────────────────────


def search_handler(people: list[dict[str, Any]], *, total: int | None = None) -> Handler:
    """Serves ``people`` as search hits, paged by the request's limit and page."""

    def handle(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        page = int(request.url.params["page"])
        hits = people[(page - 1) * limit : page * limit]
        meta = {"total": len(people) if total is None else total, "page": page}
        return httpx.Response(200, json={"peopleSearch": hits, "meta": meta})

    return handle


def test_find_by_email_searches_the_normalised_address(
    make_client: Callable[..., ClockworkClient],
) -> None:
    recorder = Recorder(search_handler([]))
    assert make_client(recorder).find_people_by_email("  Ada@Example.COM ") == []
    params = recorder.requests[0].url.params
    assert (params["q"], params["limit"], params["page"]) == ("ada@example.com", "100", "1")


def test_find_by_email_keeps_only_exact_matches_on_any_address_oldest_first(
    make_client: Callable[..., ClockworkClient],
) -> None:
    hits = [
        person("p-newer", "ADA@example.com ", created_at="2025-05-01 10:00:00"),
        person("p-name-only", name="ada@example.com fan club"),
        person("p-other", "ada@example.community"),
        person(
            "p-second", "lovelace@example.org", "Ada@Example.com", created_at="2023-01-01 09:00:00"
        ),
        person("p-oldest", " ada@example.com", created_at="2021-07-15 08:30:00"),
    ]
    found = make_client(search_handler(hits)).find_people_by_email("ada@example.com")
    assert [p["id"] for p in found] == ["p-oldest", "p-second", "p-newer"]


def test_find_by_email_keeps_the_search_order_for_people_created_in_the_same_second(
    make_client: Callable[..., ClockworkClient],
) -> None:
    same_second = "2024-06-01 10:00:00"
    hits = [
        person("p-first", "ada@example.com", created_at=same_second),
        person("p-undated", "ada@example.com", created_at="yesterday"),
        person("p-second", "ada@example.com", created_at=same_second),
    ]
    found = make_client(search_handler(hits)).find_people_by_email("ada@example.com")
    assert [p["id"] for p in found] == ["p-first", "p-second", "p-undated"]


def test_find_by_email_walks_every_page_until_meta_total_is_covered(
    make_client: Callable[..., ClockworkClient],
) -> None:
    namesakes = [person(f"p-{n:03}", name="ada") for n in range(230)]
    namesakes[7] = person("p-early", "ada@example.com", created_at="2024-02-01 00:00:00")
    namesakes[215] = person("p-late", "ada@example.com", created_at="2020-02-01 00:00:00")
    recorder = Recorder(search_handler(namesakes))

    found = make_client(recorder).find_people_by_email("ada@example.com")

    assert [p["id"] for p in found] == ["p-late", "p-early"]
    assert [r.url.params["page"] for r in recorder.requests] == ["1", "2", "3"]


def test_find_by_email_stops_on_an_empty_page_even_if_total_promised_more(
    make_client: Callable[..., ClockworkClient],
) -> None:
    recorder = Recorder(search_handler([person("p1", "a@x.io")], total=500))
    assert [p["id"] for p in make_client(recorder).find_people_by_email("a@x.io")] == ["p1"]
    assert len(recorder.requests) == 2


def test_find_by_email_refuses_a_value_without_an_at_sign_before_any_request(
    make_client: Callable[..., ClockworkClient],
) -> None:
    recorder = Recorder(search_handler([]))
    with pytest.raises(ValueError, match="not an email"):
        make_client(recorder).find_people_by_email("  ")
    assert recorder.requests == []


# ── offset paging ─────────────────────────────────────────────────────────────────────────────


def list_handler(key: str, items: list[dict[str, Any]]) -> Handler:
    """Serves ``items`` under ``key``, paged by the request's limit and offset."""

    def handle(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["limit"])
        offset = int(request.url.params["offset"])
        return httpx.Response(200, json={key: items[offset : offset + limit]})

    return handle


def test_iter_projects_pages_by_offset_until_a_short_page(
    make_client: Callable[..., ClockworkClient],
) -> None:
    projects = [{"id": f"pr{n}", "name": f"Search {n}"} for n in range(250)]
    recorder = Recorder(list_handler("projects", projects))

    assert list(make_client(recorder).iter_projects()) == projects
    assert [r.url.params["offset"] for r in recorder.requests] == ["0", "100", "200"]


def test_iter_projects_asks_once_more_after_an_exactly_full_page(
    make_client: Callable[..., ClockworkClient],
) -> None:
    projects = [{"id": f"pr{n}", "name": f"Search {n}"} for n in range(4)]
    recorder = Recorder(list_handler("projects", projects))

    assert list(make_client(recorder).iter_projects(page_size=2)) == projects
    assert [r.url.params["offset"] for r in recorder.requests] == ["0", "2", "4"]


def test_iter_candidacies_and_notes_page_under_their_parent(
    make_client: Callable[..., ClockworkClient],
) -> None:
    recorder = Recorder(list_handler("candidacies", [{"id": "c1", "personId": PERSON_ID}]))
    client = make_client(recorder)
    assert [c["id"] for c in client.iter_candidacies(PROJECT_ID)] == ["c1"]
    assert recorder.requests[0].url.path == f"/v3.0/acme/projects/{PROJECT_ID}/candidacies"

    recorder.handler = list_handler("notes", [{"id": "n1"}, {"id": "n2"}, {"id": "n3"}])
    assert [n["id"] for n in client.iter_notes(PERSON_ID, page_size=2)] == ["n1", "n2", "n3"]
    assert recorder.requests[-1].url.path == f"/v3.0/acme/people/{PERSON_ID}/notes"


# ── status → error table ──────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("status", "headers", "error_class", "kind"),
    [
        (400, {}, ClockworkValidationError, ClockworkPermanentError),
        (401, {}, ClockworkAuthError, ClockworkPermanentError),
        (403, {}, ClockworkAuthError, ClockworkPermanentError),
        (404, {}, ClockworkNotFound, ClockworkPermanentError),
        (408, {}, ClockworkTimeout, ClockworkTransientError),
        (409, {}, ClockworkConflict, ClockworkTransientError),
        (418, {}, ClockworkValidationError, ClockworkPermanentError),
        (422, {}, ClockworkValidationError, ClockworkPermanentError),
        (429, {}, ClockworkRateLimited, ClockworkTransientError),
        (429, {"Retry-After": "7"}, ClockworkRateLimited, ClockworkTransientError),
        (500, {}, ClockworkServerError, ClockworkTransientError),
        (502, {}, ClockworkServerError, ClockworkTransientError),
        (503, {}, ClockworkServerError, ClockworkTransientError),
        (503, {"Retry-After": "7"}, ClockworkRateLimited, ClockworkTransientError),
        (503, {"Retry-After": "soon"}, ClockworkServerError, ClockworkTransientError),
        (504, {}, ClockworkServerError, ClockworkTransientError),
        (
            301,
            {"Location": "https://elsewhere.test/"},
            ClockworkUnexpectedResponse,
            ClockworkPermanentError,
        ),
    ],
)
def test_status_maps_to_its_error_class(
    make_client: Callable[..., ClockworkClient],
    status: int,
    headers: dict[str, str],
    error_class: type[ClockworkError],
    kind: type[ClockworkError],
) -> None:
    client = make_client(reply(status, {"error": "nope"}, headers))
    with pytest.raises(error_class) as raised:
        client.get_person(PERSON_ID)
    error = raised.value
    assert type(error) is error_class
    assert isinstance(error, kind)
    assert (error.status, error.method, error.path_template) == (status, "GET", "/people/{id}")
    assert error.message == "nope"


def test_validation_error_carries_the_apis_message_and_field_errors(
    make_client: Callable[..., ClockworkClient],
) -> None:
    body = {"error": "Validation failed", "errors": {"address": ["is invalid", "is too long"]}}
    with pytest.raises(ClockworkValidationError) as raised:
        make_client(reply(422, body)).add_email(PERSON_ID, "not-an-email")
    error = raised.value
    assert error.field_errors == {"address": ["is invalid", "is too long"]}
    assert error.message == "Validation failed; address is invalid; address is too long"
    assert str(error) == (
        "POST /people/{id}/email_addresses -> HTTP 422: "
        "Validation failed; address is invalid; address is too long"
    )


def test_validation_message_does_not_repeat_a_field_message_already_in_error(
    make_client: Callable[..., ClockworkClient],
) -> None:
    body = {
        "error": "Validation failed: url is not a LinkedIn URL",
        "errors": {"url": ["is not a LinkedIn URL"]},
    }
    with pytest.raises(ClockworkValidationError) as raised:
        make_client(reply(422, body)).add_linkedin_url(PERSON_ID, "https://example.com")
    assert raised.value.message == "Validation failed: url is not a LinkedIn URL"
    assert raised.value.field_errors == {"url": ["is not a LinkedIn URL"]}


def test_error_message_falls_back_to_the_status_or_a_body_excerpt(
    make_client: Callable[..., ClockworkClient],
) -> None:
    with pytest.raises(ClockworkServerError, match="HTTP 502 Bad Gateway"):
        make_client(lambda request: httpx.Response(502)).check_credentials()
    with pytest.raises(ClockworkServerError, match="upstream is down"):
        make_client(
            lambda request: httpx.Response(500, text="<h1>upstream\n  is down</h1>")
        ).check_credentials()


def test_control_characters_in_clockworks_words_never_reach_the_message(
    make_client: Callable[..., ClockworkClient],
) -> None:
    """A hostile answer's terminal escapes, NULs or line breaks would rewrite a log line or a
    terminal showing ``cwsync status``: every error message Clockwork's words go into is plain."""
    hostile = "denied\x1b[2J\x1b]0;pwned\x07\x00\r\nFAKE LOG LINE\x85"
    with pytest.raises(ClockworkValidationError) as raised:
        make_client(
            reply(422, {"error": hostile, "errors": {"x\x1b": [hostile]}})
        ).check_credentials()
    shown = [raised.value.message, str(raised.value), *raised.value.field_errors["x"]]
    for text in shown:
        assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in text), repr(text)
        assert "denied" in text and "FAKE LOG LINE" in text
    with pytest.raises(ClockworkServerError) as raised_too:
        make_client(lambda request: httpx.Response(500, text=hostile)).check_credentials()
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in str(raised_too.value))


def test_error_message_is_cut_to_about_300_characters(
    make_client: Callable[..., ClockworkClient],
) -> None:
    with pytest.raises(ClockworkValidationError) as raised:
        make_client(reply(422, {"error": "x" * 5000})).check_credentials()
    assert len(raised.value.message) <= 300


def test_credentials_echoed_by_the_server_never_reach_the_error_or_the_call_log(
    make_client: Callable[..., ClockworkClient],
) -> None:
    echo = {"error": f"bad key {API_KEY} / {API_SECRET}", "errors": {"key": [FIRM_SERVICE_KEY]}}
    records: list[CallRecord] = []
    with pytest.raises(ClockworkAuthError) as raised:
        make_client(reply(401, echo), on_call=records.append).check_credentials()
    visible = f"{raised.value!s} {raised.value!r} {records!r}"
    for secret in SECRETS:
        assert secret not in visible


# ── Retry-After ───────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("1e3", None),
        ("30", 30.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("86400", MAX_RETRY_AFTER_SECONDS),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        (format_datetime(NOW - timedelta(minutes=5), usegmt=True), 0.0),
        (format_datetime(NOW + timedelta(days=2), usegmt=True), MAX_RETRY_AFTER_SECONDS),
        ("Sun, 01 Mar 2026 12:01:00 -0000", 60.0),
        ("Sunday, 99 Foo 2026 25:61:00 GMT", None),
    ],
)
def test_parse_retry_after_reads_seconds_or_an_http_date_and_clamps(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("12", 12.0), (format_datetime(NOW + timedelta(seconds=45), usegmt=True), 45.0), (None, None)],
    ids=["seconds", "http date", "absent"],
)
def test_rate_limited_carries_retry_after_relative_to_the_injected_clock(
    make_client: Callable[..., ClockworkClient], header: str | None, seconds: float | None
) -> None:
    headers = {"Retry-After": header} if header is not None else {}
    with pytest.raises(ClockworkRateLimited) as raised:
        list(make_client(reply(429, {"error": "slow down"}, headers)).iter_projects())
    assert raised.value.retry_after == seconds


# ── transport failures ────────────────────────────────────────────────────────────────────────


def raising(exc: Exception) -> Handler:
    """A handler whose request fails with ``exc`` before any response."""

    def handle(request: httpx.Request) -> httpx.Response:
        raise exc

    return handle


@pytest.mark.parametrize(
    ("exc", "error_class"),
    [
        (httpx.ReadTimeout("timed out"), ClockworkTimeout),
        (httpx.ConnectTimeout("timed out"), ClockworkTimeout),
        (httpx.PoolTimeout("timed out"), ClockworkTimeout),
        (httpx.ConnectError("[Errno 111] Connection refused"), ClockworkNetworkError),
        (httpx.RemoteProtocolError("Server disconnected"), ClockworkNetworkError),
        (httpx.ReadError("connection reset"), ClockworkNetworkError),
    ],
)
def test_transport_failures_map_to_network_errors(
    make_client: Callable[..., ClockworkClient],
    exc: Exception,
    error_class: type[ClockworkError],
) -> None:
    records: list[CallRecord] = []
    with pytest.raises(error_class) as raised:
        make_client(raising(exc), on_call=records.append).get_person(PERSON_ID)
    error = raised.value
    assert type(error) is error_class
    assert error.status is None
    assert error.__cause__ is exc
    assert (records[0].status, records[0].error) == (None, error.message)


# ── call log ──────────────────────────────────────────────────────────────────────────────────


def test_on_call_gets_one_record_per_request_with_path_templates_only(
    make_client: Callable[..., ClockworkClient],
) -> None:
    answers = iter(
        [
            httpx.Response(200, json={"peopleSearch": [], "meta": {"total": 0, "page": 1}}),
            httpx.Response(201, json={"note": {"id": "n1"}}),
            httpx.Response(404, json={"error": "Person not found"}),
        ]
    )
    records: list[CallRecord] = []
    client = make_client(lambda request: next(answers), on_call=records.append)

    client.find_people_by_email("ada@example.com")
    client.create_note(PERSON_ID, content_html="<p>hi</p>")
    with pytest.raises(ClockworkNotFound):
        client.get_person(PERSON_ID)

    assert [(r.method, r.path_template, r.status, r.error) for r in records] == [
        ("GET", "/people_search", 200, None),
        ("POST", "/people/{id}/notes", 201, None),
        ("GET", "/people/{id}", 404, "Person not found"),
    ]
    assert all(r.at == NOW and r.latency_ms >= 0 for r in records)
    logged = repr(records)
    for private in (*SECRETS, PERSON_ID, "ada@example.com", "<p>hi</p>"):
        assert private not in logged


# ── pacer ─────────────────────────────────────────────────────────────────────────────────────


def test_pacer_is_asked_before_every_request_and_told_about_throttling(
    make_client: Callable[..., ClockworkClient],
) -> None:
    answers = iter(
        [
            httpx.Response(200, json={"people": []}),
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(500),
            httpx.Response(503, headers={"Retry-After": "8"}),
            httpx.Response(429),
        ]
    )
    pacer = FakePacer()
    client = make_client(lambda request: next(answers), pacer=pacer)

    client.check_credentials()
    for _ in range(4):
        with pytest.raises(ClockworkTransientError):
            client.check_credentials()

    assert pacer.events == [
        ("acquire", None),
        ("answered", None),
        ("acquire", None),
        ("throttled", 3.0),
        ("acquire", None),
        ("answered", None),  # a 500 is an answer, not a request to slow down
        ("acquire", None),
        ("throttled", 8.0),
        ("acquire", None),
        ("throttled", None),
    ]


# ── add_candidacy ─────────────────────────────────────────────────────────────────────────────


def candidacy_handler(*, post: httpx.Response, existing: list[dict[str, Any]]) -> Handler:
    """POST answers ``post``; GET lists ``existing`` candidacies."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return post
        return httpx.Response(200, json={"candidacies": existing})

    return handle


def test_add_candidacy_returns_the_new_candidacy(
    make_client: Callable[..., ClockworkClient],
) -> None:
    created = {"id": "c1", "personId": PERSON_ID, "projectId": PROJECT_ID}
    recorder = Recorder(
        candidacy_handler(post=httpx.Response(201, json={"candidacy": created}), existing=[])
    )
    assert make_client(recorder).add_candidacy(PROJECT_ID, PERSON_ID) == CandidacyResult(
        candidacy=created, already_present=False
    )
    assert len(recorder.requests) == 1


def test_add_candidacy_treats_422_as_success_once_the_person_is_confirmed_in_the_project(
    make_client: Callable[..., ClockworkClient],
) -> None:
    existing = {"id": "c0", "personId": PERSON_ID, "projectId": PROJECT_ID}
    refused = httpx.Response(422, json={"error": "Person is already in this project"})
    recorder = Recorder(
        candidacy_handler(post=refused, existing=[{"id": "cx", "personId": "other"}, existing])
    )

    result = make_client(recorder).add_candidacy(PROJECT_ID, PERSON_ID)

    assert result == CandidacyResult(candidacy=existing, already_present=True)
    assert [(r.method, r.url.path) for r in recorder.requests] == [
        ("POST", f"/v3.0/acme/projects/{PROJECT_ID}/candidacies"),
        ("GET", f"/v3.0/acme/projects/{PROJECT_ID}/candidacies"),
    ]


def test_add_candidacy_raises_a_422_the_project_listing_does_not_confirm(
    make_client: Callable[..., ClockworkClient],
) -> None:
    refused = httpx.Response(422, json={"error": "person_id is invalid"})
    client = make_client(
        candidacy_handler(post=refused, existing=[{"id": "cx", "personId": "other"}])
    )
    with pytest.raises(ClockworkValidationError, match="person_id is invalid"):
        client.add_candidacy(PROJECT_ID, PERSON_ID)


def test_add_candidacy_does_not_look_further_after_another_4xx(
    make_client: Callable[..., ClockworkClient],
) -> None:
    recorder = Recorder(
        candidacy_handler(post=httpx.Response(400, json={"error": "bad"}), existing=[])
    )
    with pytest.raises(ClockworkValidationError):
        make_client(recorder).add_candidacy(PROJECT_ID, PERSON_ID)
    assert len(recorder.requests) == 1

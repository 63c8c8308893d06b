"""The Clockwork simulator against the contract, hit with plain httpx on a real loopback socket.

Covers every endpoint's shapes, auth, errors, pagination, loud rejection of anything outside the
contract, each fault kind, the admin surface, save/load, and parity with `mock_transport`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from clockwork_simulator import (
    DEMO_API_KEY,
    DEMO_API_SECRET,
    DEMO_FIRM,
    DEMO_FIRM_SERVICE_KEY,
    ROUTE_TEMPLATES,
    FaultConfig,
    FaultInjector,
    SimulatorServer,
    SimulatorState,
    mock_transport,
)
from tests.factories import LOOPBACK_TLS
from tests.sync_engine.clockwork.conftest import SimCredentials

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
PERSON_KEYS = {
    "id",
    "name",
    "firstName",
    "lastName",
    "createdAt",
    "updatedAt",
    "doNotContact",
    "preferredEmailAddress",
    "preferredLinkedinUrl",
    "emails",
    "positions",
    "linkedinUrls",
    "notes",
    "tags",
    "phoneNumbers",
}


@pytest.fixture
def api(sim_credentials: SimCredentials) -> Iterator[httpx.Client]:
    """A plain httpx client on the acme firm's contract base, with valid credentials."""
    with httpx.Client(
        base_url=sim_credentials.firm_url,
        headers=sim_credentials.auth_headers(),
        timeout=5,
        verify=LOOPBACK_TLS,
    ) as client:
        yield client


@pytest.fixture
def admin(simulator: SimulatorServer) -> Iterator[httpx.Client]:
    """A plain httpx client on the simulator's admin surface."""
    with httpx.Client(
        base_url=f"{simulator.base_url}/_admin", timeout=5, verify=LOOPBACK_TLS
    ) as client:
        yield client


def create_person(client: httpx.Client, name: str = "Ada Lovelace") -> dict[str, Any]:
    first, _, last = name.partition(" ")
    response = client.post(
        "/people", json={"person": {"name": name, "firstName": first, "lastName": last}}
    )
    assert response.status_code == 201, response.text
    person: dict[str, Any] = response.json()["person"]
    return person


def add_email(client: httpx.Client, person_id: str, address: str) -> httpx.Response:
    return client.post(
        f"/people/{person_id}/email_addresses",
        json={"email": {"address": address, "location": "work"}},
    )


def first_project_id(client: httpx.Client) -> str:
    project_id: str = client.get("/projects").json()["projects"][0]["id"]
    return project_id


def assert_uuid(value: str) -> None:
    assert str(uuid.UUID(value)) == value


def assert_422(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert list(body["errors"]) == [field]
    assert all(isinstance(message, str) for message in body["errors"][field])


# -- endpoints ---------------------------------------------------------------------------------


def test_credentials_check_get_people_limit_1_is_2xx(api: httpx.Client) -> None:
    response = api.get("/people", params={"limit": 1})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"people": []}


def test_create_person_returns_201_person_with_null_collections(api: httpx.Client) -> None:
    response = api.post(
        "/people", json={"person": {"name": "Ada Lovelace", "firstName": "Ada", "lastName": "L"}}
    )
    assert response.status_code == 201
    person = response.json()["person"]
    assert set(person) == PERSON_KEYS
    assert_uuid(person["id"])
    assert (person["name"], person["firstName"], person["lastName"]) == ("Ada Lovelace", "Ada", "L")
    assert TIMESTAMP.match(person["createdAt"]) and TIMESTAMP.match(person["updatedAt"])
    assert person["doNotContact"] is False
    for key in ("preferredEmailAddress", "preferredLinkedinUrl", "emails", "positions"):
        assert person[key] is None
    for key in ("linkedinUrls", "notes", "tags", "phoneNumbers"):
        assert person[key] is None


def test_create_person_without_name_uses_first_and_last_name(api: httpx.Client) -> None:
    response = api.post("/people", json={"person": {"firstName": "Grace", "lastName": "Hopper"}})
    assert response.status_code == 201
    assert response.json()["person"]["name"] == "Grace Hopper"


def test_create_person_with_blank_name_is_422(api: httpx.Client) -> None:
    assert_422(api.post("/people", json={"person": {"name": "  "}}), "name")


def test_create_person_does_not_dedupe_same_name_and_email(api: httpx.Client) -> None:
    first = create_person(api)
    second = create_person(api)
    assert first["id"] != second["id"]
    for person in (first, second):
        assert add_email(api, person["id"], "ada@example.com").status_code == 200
    hits = api.get("/people_search", params={"q": "ada@example.com"}).json()
    assert [p["id"] for p in hits["peopleSearch"]] == [first["id"], second["id"]]
    assert hits["meta"] == {"total": 2, "page": 1}


def test_get_person_returns_the_person(api: httpx.Client) -> None:
    person = create_person(api)
    response = api.get(f"/people/{person['id']}")
    assert response.status_code == 200
    assert response.json() == {"person": person}


def test_unknown_person_is_404_on_reads_and_writes(api: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    assert api.get(f"/people/{missing}").status_code == 404
    assert add_email(api, missing, "a@b.co").status_code == 404
    assert api.get(f"/people/{missing}/notes").status_code == 404
    response = api.post(f"/people/{missing}/linkedin_urls", json={"linkedin_url": {"url": "x"}})
    assert response.status_code == 404
    assert "error" in response.json()


def test_first_email_becomes_preferred_and_later_ones_do_not(api: httpx.Client) -> None:
    person = create_person(api)
    response = add_email(api, person["id"], "ada@work.example")
    assert response.status_code == 200
    email = response.json()["personEmailAddress"]
    assert email["address"] == "ada@work.example" and email["personId"] == person["id"]
    assert_uuid(email["id"])
    assert add_email(api, person["id"], "ada@home.example").status_code == 200
    fetched = api.get(f"/people/{person['id']}").json()["person"]
    assert fetched["preferredEmailAddress"] == "ada@work.example"
    assert [e["address"] for e in fetched["emails"]] == ["ada@work.example", "ada@home.example"]
    assert set(fetched["emails"][0]) == {"id", "address", "createdAt", "updatedAt"}


def test_invalid_email_is_422_on_address(api: httpx.Client) -> None:
    person = create_person(api)
    assert_422(add_email(api, person["id"], "not-an-email"), "address")


def test_add_position_returns_position_and_shows_on_person(api: httpx.Client) -> None:
    person = create_person(api)
    response = api.post(
        f"/people/{person['id']}/positions",
        json={"position": {"title": "CTO", "companyName": "Analytical Engines"}},
    )
    assert response.status_code == 200
    position = response.json()["position"]
    assert (position["title"], position["companyName"], position["type"]) == (
        "CTO",
        "Analytical Engines",
        "current",
    )
    fetched = api.get(f"/people/{person['id']}").json()["person"]
    assert fetched["positions"] == [
        {
            "id": position["id"],
            "title": "CTO",
            "companyName": "Analytical Engines",
            "type": "current",
        }
    ]


def test_position_without_title_or_company_is_422(api: httpx.Client) -> None:
    person = create_person(api)
    assert_422(api.post(f"/people/{person['id']}/positions", json={"position": {}}), "title")


def test_first_linkedin_url_becomes_preferred(api: httpx.Client) -> None:
    person = create_person(api)
    url = "https://www.linkedin.com/in/ada-lovelace"
    response = api.post(
        f"/people/{person['id']}/linkedin_urls", json={"linkedin_url": {"url": url}}
    )
    assert response.status_code == 200
    assert response.json()["personLinkedinUrl"]["url"] == url
    other = "https://linkedin.com/in/ada-2"
    api.post(f"/people/{person['id']}/linkedin_urls", json={"linkedin_url": {"url": other}})
    fetched = api.get(f"/people/{person['id']}").json()["person"]
    assert fetched["preferredLinkedinUrl"] == url
    assert [u["url"] for u in fetched["linkedinUrls"]] == [url, other]


def test_non_linkedin_url_is_422(api: httpx.Client) -> None:
    person = create_person(api)
    response = api.post(
        f"/people/{person['id']}/linkedin_urls", json={"linkedin_url": {"url": "https://x.com/a"}}
    )
    assert_422(response, "url")


def test_search_matches_name_substring_or_exact_email_case_insensitively(
    api: httpx.Client,
) -> None:
    ada = create_person(api, "Ada Lovelace")
    add_email(api, ada["id"], "ada@example.com")
    grace = create_person(api, "Grace Hopper")
    add_email(api, grace["id"], "Grace@Navy.example")

    def search(q: str) -> list[str]:
        response = api.get("/people_search", params={"q": q})
        assert response.status_code == 200
        return [p["name"] for p in response.json()["peopleSearch"]]

    assert search("LOVE") == ["Ada Lovelace"]
    assert search("grace@navy.EXAMPLE") == ["Grace Hopper"]
    assert search("ada@example.co") == []  # an email matches only when equal
    assert search("example.com") == []
    assert search("a") == ["Ada Lovelace", "Grace Hopper"]


def test_email_search_also_matches_names_containing_it_oldest_first(api: httpx.Client) -> None:
    older = create_person(api, "Old Timer")
    named = create_person(api, "ada@example.com (imported)")
    newer = create_person(api, "New Comer")
    add_email(api, newer["id"], "ADA@example.com")
    add_email(api, older["id"], "ada@example.com")  # email added last, person created first
    hits = api.get("/people_search", params={"q": "Ada@Example.com"}).json()["peopleSearch"]
    assert [p["id"] for p in hits] == [older["id"], named["id"], newer["id"]]


def test_search_pages_are_1_based_with_meta(api: httpx.Client) -> None:
    ids = [create_person(api, f"Candidate Number{i}")["id"] for i in range(5)]
    response = api.get("/people_search", params={"q": "candidate", "limit": 2, "page": 3})
    body = response.json()
    assert [p["id"] for p in body["peopleSearch"]] == ids[4:]
    assert body["meta"] == {"total": 5, "page": 3}
    assert api.get("/people_search", params={"q": "x", "page": 0}).status_code == 422
    assert_422(api.get("/people_search", params={"limit": 5}), "q")


def test_list_people_pages_with_limit_and_offset(api: httpx.Client) -> None:
    ids = [create_person(api, f"Person N{i}")["id"] for i in range(5)]
    page = api.get("/people", params={"limit": 2, "offset": 1}).json()["people"]
    assert [p["id"] for p in page] == ids[1:3]
    assert api.get("/people", params={"limit": 100}).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/people", {"limit": 101}, "limit"),
        ("/people", {"limit": 0}, "limit"),
        ("/people", {"limit": "ten"}, "limit"),
        ("/people", {"offset": -1}, "offset"),
        ("/projects", {"limit": 101}, "limit"),
        ("/people_search", {"q": "a", "limit": 101}, "limit"),
    ],
)
def test_bad_page_parameters_are_422(
    api: httpx.Client, path: str, params: dict[str, Any], field: str
) -> None:
    assert_422(api.get(path, params=params), field)


def test_projects_are_seeded_active_with_realistic_names(api: httpx.Client) -> None:
    projects = api.get("/projects").json()["projects"]
    assert 3 <= len(projects) <= 4
    for project in projects:
        assert set(project) == {"id", "name", "status", "createdAt"}
        assert project["status"] == "Active" and "—" in project["name"]
        assert_uuid(project["id"])
    page = api.get("/projects", params={"limit": 1, "offset": 1}).json()["projects"]
    assert page == projects[1:2]


def test_add_candidacy_is_201_at_research_status(api: httpx.Client) -> None:
    person = create_person(api)
    project_id = first_project_id(api)
    response = api.post(
        f"/projects/{project_id}/candidacies", json={"candidacy": {"person_id": person["id"]}}
    )
    assert response.status_code == 201
    candidacy = response.json()["candidacy"]
    assert set(candidacy) == {"id", "personId", "projectId", "statusId", "createdAt"}
    assert (candidacy["personId"], candidacy["projectId"]) == (person["id"], project_id)
    statuses = {s["id"]: s["name"] for s in api.get("/statuses").json()["statuses"]}
    assert statuses[candidacy["statusId"]] == "Research"


def test_person_already_in_project_is_422(api: httpx.Client) -> None:
    person = create_person(api)
    path = f"/projects/{first_project_id(api)}/candidacies"
    body = {"candidacy": {"person_id": person["id"]}}
    assert api.post(path, json=body).status_code == 201
    assert_422(api.post(path, json=body), "person_id")


def test_candidacy_with_unknown_person_is_422_and_unknown_project_404(api: httpx.Client) -> None:
    path = f"/projects/{first_project_id(api)}/candidacies"
    assert_422(api.post(path, json={"candidacy": {"person_id": str(uuid.uuid4())}}), "person_id")
    assert_422(api.post(path, json={"candidacy": {}}), "person_id")
    person = create_person(api)
    response = api.post(
        f"/projects/{uuid.uuid4()}/candidacies", json={"candidacy": {"person_id": person["id"]}}
    )
    assert response.status_code == 404


def test_list_candidacies_includes_person_only_when_asked(api: httpx.Client) -> None:
    person = create_person(api)
    project_id = first_project_id(api)
    api.post(f"/projects/{project_id}/candidacies", json={"candidacy": {"person_id": person["id"]}})
    path = f"/projects/{project_id}/candidacies"
    plain = api.get(path).json()["candidacies"]
    assert len(plain) == 1 and "person" not in plain[0]
    included = api.get(path, params={"include": "person", "limit": 10, "offset": 0}).json()
    assert included["candidacies"][0]["person"] == person
    assert api.get(path, params={"offset": 1}).json() == {"candidacies": []}
    assert api.get(f"/projects/{uuid.uuid4()}/candidacies").status_code == 404


def test_create_and_list_notes(api: httpx.Client) -> None:
    person = create_person(api)
    note_body = {"content": "<p>Sent: Intro</p>", "contentType": "text/html", "category": "Email"}
    response = api.post(f"/people/{person['id']}/notes", json={"note": note_body})
    assert response.status_code == 201
    note = response.json()["note"]
    assert set(note) == {"id", "personId", "content", "contentType", "category", "createdAt"}
    assert {k: note[k] for k in note_body} == note_body
    assert note["personId"] == person["id"]
    assert api.get(f"/people/{person['id']}/notes").json() == {"notes": [note]}
    assert api.get(f"/people/{person['id']}/notes", params={"offset": 1}).json() == {"notes": []}


def test_blank_note_is_422(api: httpx.Client) -> None:
    person = create_person(api)
    assert_422(api.post(f"/people/{person['id']}/notes", json={"note": {"content": ""}}), "content")


def test_statuses_list_ids_and_names(api: httpx.Client) -> None:
    statuses = api.get("/statuses").json()["statuses"]
    assert "Research" in [s["name"] for s in statuses]
    assert all(set(s) == {"id", "name"} for s in statuses)


# -- authentication and tenancy ----------------------------------------------------------------


def token(api_key: str, api_secret: str) -> str:
    return base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-headers"),
        pytest.param(
            {"Authorization": f"Token {token('acme-api-key', 'acme-api-secret')}"},
            id="no-x-api-key",
        ),
        pytest.param({"X-API-Key": "acme-firm-service-key"}, id="no-authorization"),
        pytest.param(
            {
                "X-API-Key": "wrong",
                "Authorization": f"Token {token('acme-api-key', 'acme-api-secret')}",
            },
            id="wrong-service-key",
        ),
        pytest.param(
            {
                "X-API-Key": "acme-firm-service-key",
                "Authorization": f"Token {token('acme-api-key', 'nope')}",
            },
            id="wrong-secret",
        ),
        pytest.param(
            {
                "X-API-Key": "acme-firm-service-key",
                "Authorization": f"Token {token('nope', 'acme-api-secret')}",
            },
            id="unknown-key",
        ),
        pytest.param(
            {"X-API-Key": "acme-firm-service-key", "Authorization": "Token !!not-base64!!"},
            id="not-base64",
        ),
        pytest.param(
            {
                "X-API-Key": "acme-firm-service-key",
                "Authorization": f"Basic {token('acme-api-key', 'acme-api-secret')}",
            },
            id="basic-scheme",
        ),
    ],
)
def test_wrong_or_missing_credentials_are_401(
    sim_credentials: SimCredentials, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{sim_credentials.firm_url}/people", params={"limit": 1}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]


def test_bearer_scheme_with_the_same_token_is_accepted(sim_credentials: SimCredentials) -> None:
    headers = sim_credentials.auth_headers()
    headers["Authorization"] = headers["Authorization"].replace("Token ", "Bearer ")
    response = httpx.get(f"{sim_credentials.firm_url}/people", params={"limit": 1}, headers=headers)
    assert response.status_code == 200


def test_revoked_key_is_401_until_restored(
    api: httpx.Client, sim_state: SimulatorState, sim_credentials: SimCredentials
) -> None:
    sim_state.revoke_key(sim_credentials.api_key)
    assert api.get("/people", params={"limit": 1}).status_code == 401
    sim_state.restore_key(sim_credentials.api_key)
    assert api.get("/people", params={"limit": 1}).status_code == 200
    sim_state.revoke_key(sim_credentials.firm_service_key)
    assert api.get("/people", params={"limit": 1}).status_code == 401


def test_other_firms_credentials_do_not_open_this_firm(
    sim_state: SimulatorState, sim_credentials: SimCredentials
) -> None:
    sim_state.add_firm("globex", api_key="g-key", api_secret="g-secret", firm_service_key="g-fsk")
    headers = {"X-API-Key": "g-fsk", "Authorization": f"Token {token('g-key', 'g-secret')}"}
    base = sim_credentials.base_url
    assert httpx.get(f"{base}/v3.0/globex/people", headers=headers).status_code == 200
    assert httpx.get(f"{base}/v3.0/acme/people", headers=headers).status_code == 401


def test_unknown_firm_is_404(sim_credentials: SimCredentials) -> None:
    response = httpx.get(
        f"{sim_credentials.base_url}/v3.0/initech/people", headers=sim_credentials.auth_headers()
    )
    assert response.status_code == 404
    assert "initech" in response.json()["error"]


# -- loud rejection of anything outside the contract ------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v3.0/acme/contacts", 404),
        ("GET", "/v3.0/acme/people/", 404),
        ("GET", "/v3.0/acme/people/x/emails", 404),
        ("GET", "/v2/acme/people", 404),
        ("GET", "/", 404),
        ("DELETE", "/v3.0/acme/people/123", 405),
        ("PUT", "/v3.0/acme/people/123", 405),
        ("GET", "/v3.0/acme/people/123/email_addresses", 405),
        ("POST", "/v3.0/acme/projects", 405),
    ],
)
def test_route_outside_the_contract_is_rejected_and_logged(
    sim_credentials: SimCredentials,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    status: int,
) -> None:
    caplog.set_level(logging.WARNING)
    response = httpx.request(
        method, f"{sim_credentials.base_url}{path}", headers=sim_credentials.auth_headers()
    )
    assert response.status_code == status
    message = f"route outside the Clockwork contract: {method} {path}"
    assert response.json() == {"error": message}
    assert any(message in record.getMessage() for record in caplog.records)


def test_query_parameter_outside_the_contract_is_422(api: httpx.Client) -> None:
    assert_422(api.get("/people_search", params={"q": "a", "offset": 10}), "offset")
    assert_422(api.get("/people", params={"page": 2}), "page")
    assert_422(api.get(f"/projects/{first_project_id(api)}/candidacies?include=notes"), "include")


def test_body_field_outside_the_contract_is_422(api: httpx.Client) -> None:
    response = api.post("/people", json={"person": {"name": "A B", "email": "a@b.co"}})
    assert_422(response, "person.email")
    assert_422(api.post("/people", json={"name": "A B"}), "person")
    assert_422(api.post("/people", json={"person": {"name": 7}}), "name")


def test_write_without_json_content_type_is_415_and_bad_json_400(api: httpx.Client) -> None:
    response = api.post("/people", content=b'{"person": {"name": "A B"}}')
    assert response.status_code == 415
    response = api.post(
        "/people", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


# -- faults ------------------------------------------------------------------------------------


def test_rate_limit_answers_429_with_retry_after_seconds(
    api: httpx.Client, simulator: SimulatorServer, sim_state: SimulatorState
) -> None:
    simulator.set_faults(FaultConfig(rate_limit_rps=0.5, burst=2))
    assert [api.get("/statuses").status_code for _ in range(2)] == [200, 200]
    response = api.post("/people", json={"person": {"name": "Too Fast"}})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json() == {"error": "rate limit exceeded"}
    assert sim_state.snapshot("acme")["people"] == []  # a 429 is not served


def test_rate_limit_retry_after_as_http_date(api: httpx.Client, simulator: SimulatorServer) -> None:
    simulator.set_faults(FaultConfig(rate_limit_rps=0.1, burst=1, retry_after="http_date"))
    assert api.get("/statuses").status_code == 200
    before = datetime.now(UTC).replace(microsecond=0)
    response = api.get("/statuses")
    assert response.status_code == 429
    retry_at = parsedate_to_datetime(response.headers["Retry-After"])
    assert before.timestamp() + 9 <= retry_at.timestamp() <= before.timestamp() + 12


def test_rate_limit_without_retry_after(api: httpx.Client, simulator: SimulatorServer) -> None:
    simulator.set_faults(FaultConfig(rate_limit_rps=0.1, burst=1, retry_after="none"))
    api.get("/statuses")
    response = api.get("/statuses")
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_rate_limit_is_per_firm(
    api: httpx.Client, simulator: SimulatorServer, sim_state: SimulatorState
) -> None:
    sim_state.add_firm("globex", api_key="g-key", api_secret="g-secret", firm_service_key="g-fsk")
    simulator.set_faults(FaultConfig(rate_limit_rps=0.1, burst=1))
    api.get("/statuses")
    assert api.get("/statuses").status_code == 429
    headers = {"X-API-Key": "g-fsk", "Authorization": f"Token {token('g-key', 'g-secret')}"}
    response = httpx.get(f"{simulator.base_url}/v3.0/globex/statuses", headers=headers)
    assert response.status_code == 200


def test_token_bucket_refills_at_the_configured_rate() -> None:
    now = [100.0]
    injector = FaultInjector(FaultConfig(rate_limit_rps=2, burst=2), clock=lambda: now[0])
    assert [injector.decide("acme").status for _ in range(3)] == [None, None, 429]
    now[0] += 0.5
    assert injector.decide("acme").status is None
    assert injector.decide("acme").status == 429


def test_error_rate_answers_5xx_without_serving(
    api: httpx.Client, simulator: SimulatorServer, sim_state: SimulatorState
) -> None:
    simulator.set_faults(FaultConfig(error_rate=1.0, seed=7))
    statuses = [
        api.post("/people", json={"person": {"name": "A B"}}).status_code for _ in range(12)
    ]
    assert set(statuses) <= {500, 502, 503} and len(set(statuses)) > 1
    assert sim_state.snapshot("acme")["people"] == []


def test_seeded_faults_are_deterministic() -> None:
    config = FaultConfig(error_rate=0.3, drop_rate=0.2, slow_rate=0.1, jitter_ms=50, seed=42)
    first, second = FaultInjector(config), FaultInjector(config)
    assert [first.decide("acme") for _ in range(50)] == [second.decide("acme") for _ in range(50)]


def test_dropped_connection_raises_transport_error_after_the_write(
    api: httpx.Client, simulator: SimulatorServer, sim_state: SimulatorState
) -> None:
    simulator.set_faults(FaultConfig(drop_rate=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/people", json={"person": {"name": "Maybe Created"}})
    simulator.set_faults(None)
    assert [p["name"] for p in sim_state.snapshot("acme")["people"]] == ["Maybe Created"]
    assert api.get("/statuses").status_code == 200  # the client recovers on a new connection


def test_slow_response_times_out_the_client_after_the_write(
    api: httpx.Client, simulator: SimulatorServer, sim_state: SimulatorState
) -> None:
    simulator.set_faults(FaultConfig(slow_rate=1.0, slow_seconds=30))
    with pytest.raises(httpx.ReadTimeout):
        api.post("/people", json={"person": {"name": "Slow Poke"}}, timeout=0.3)
    assert [p["name"] for p in sim_state.snapshot("acme")["people"]] == ["Slow Poke"]


def test_latency_delays_every_response(api: httpx.Client, simulator: SimulatorServer) -> None:
    simulator.set_faults(FaultConfig(latency_ms=150))
    response = api.get("/statuses")
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.15


@pytest.mark.parametrize(
    "bad",
    [
        {"error_rate": 0.6, "drop_rate": 0.5},
        {"error_rate": 1.5},
        {"burst": 5},
        {"rate_limit_rps": 0},
        {"error_statuses": [404]},
        {"retry_after": "minutes"},
        {"latency": 10},
    ],
)
def test_invalid_fault_config_is_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FaultConfig.model_validate(bad)


# -- admin surface -----------------------------------------------------------------------------


def test_admin_health_and_firm_registration(
    admin: httpx.Client, simulator: SimulatorServer
) -> None:
    assert admin.get("/health").json() == {"status": "ok"}
    new_firm = {
        "name": "globex",
        "api_key": "g-key",
        "api_secret": "g-secret",
        "firm_service_key": "g-fsk",
        "seed_projects": False,
    }
    assert admin.post("/firms", json=new_firm).status_code == 201
    assert admin.post("/firms", json=new_firm).status_code == 422
    assert admin.post("/firms", json={"name": "x"}).status_code == 422
    assert admin.get("/firms").json() == {"firms": ["acme", "globex"]}
    headers = {"X-API-Key": "g-fsk", "Authorization": f"Token {token('g-key', 'g-secret')}"}
    response = httpx.get(f"{simulator.base_url}/v3.0/globex/projects", headers=headers)
    assert response.json() == {"projects": []}


def test_admin_seeds_people_and_projects_and_shows_state(
    admin: httpx.Client, api: httpx.Client
) -> None:
    seeded = admin.post(
        "/firms/acme/people",
        json={
            "first_name": "Katherine",
            "last_name": "Johnson",
            "emails": ["kj@nasa.example"],
            "title": "Mathematician",
            "company": "NASA",
            "linkedin_urls": ["https://www.linkedin.com/in/kj"],
        },
    )
    assert seeded.status_code == 201
    person = seeded.json()["person"]
    assert person["preferredEmailAddress"] == "kj@nasa.example"
    assert person["positions"][0]["companyName"] == "NASA"
    hits = api.get("/people_search", params={"q": "KJ@nasa.example"}).json()["peopleSearch"]
    assert hits == [person]
    assert (
        admin.post(
            "/firms/acme/people", json={"first_name": "X", "last_name": "Y", "emails": ["bad"]}
        ).status_code
        == 422
    )

    project = admin.post("/firms/acme/projects", json={"name": "CEO — Initech"}).json()["project"]
    assert project["status"] == "Active"
    state = admin.get("/firms/acme/state").json()
    assert state["people"] == [person]
    assert project in state["projects"]
    assert set(state) >= {"people", "projects", "candidacies", "notes", "statuses", "users"}
    assert admin.get("/firms/nope/state").status_code == 404


def test_admin_faults_get_and_put(admin: httpx.Client, api: httpx.Client) -> None:
    assert admin.get("/faults").json() == FaultConfig().model_dump(mode="json")
    response = admin.put("/faults", json={"error_rate": 1.0, "error_statuses": [503]})
    assert response.status_code == 200
    assert admin.get("/faults").json()["error_rate"] == 1.0
    assert api.get("/statuses").status_code == 503
    assert admin.put("/faults", json={"error_rate": 2}).status_code == 422
    assert admin.put("/faults", json={}).status_code == 200
    assert api.get("/statuses").status_code == 200


def test_admin_revokes_and_restores_keys(
    admin: httpx.Client, api: httpx.Client, sim_credentials: SimCredentials
) -> None:
    assert admin.post("/keys/revoke", json={"key": sim_credentials.api_key}).status_code == 204
    assert api.get("/people", params={"limit": 1}).status_code == 401
    assert admin.post("/keys/restore", json={"key": sim_credentials.api_key}).status_code == 204
    assert api.get("/people", params={"limit": 1}).status_code == 200
    assert admin.post("/keys/revoke", json={"key": "nope"}).status_code == 404


def test_admin_stats_count_every_request_by_route(
    admin: httpx.Client, api: httpx.Client, sim_credentials: SimCredentials
) -> None:
    person = create_person(api)
    api.get(f"/people/{person['id']}")
    api.get(f"/people/{uuid.uuid4()}")
    httpx.get(f"{sim_credentials.firm_url}/statuses")  # 401 still counts
    stats = admin.get("/firms/acme/stats").json()
    assert stats == {
        "total": 4,
        "routes": {"POST /people": 1, "GET /people/{id}": 2, "GET /statuses": 1},
    }
    assert set(stats["routes"]) <= set(ROUTE_TEMPLATES)


def test_admin_reset_keeping_firms_clears_data(
    admin: httpx.Client, api: httpx.Client, sim_state: SimulatorState
) -> None:
    create_person(api)
    assert admin.post("/reset", json={"keep_firms": True}).status_code == 204
    assert api.get("/people").json() == {"people": []}
    assert len(api.get("/projects").json()["projects"]) == 4
    assert admin.post("/reset").status_code == 204
    assert sim_state.firms() == []
    assert api.get("/people").status_code == 404


# -- save / load -------------------------------------------------------------------------------


def test_save_and_load_round_trip(
    api: httpx.Client, sim_state: SimulatorState, tmp_path: Path
) -> None:
    person = create_person(api)
    add_email(api, person["id"], "ada@example.com")
    project_id = first_project_id(api)
    api.post(f"/projects/{project_id}/candidacies", json={"candidacy": {"person_id": person["id"]}})
    api.post(f"/people/{person['id']}/notes", json={"note": {"content": "<p>hi</p>"}})
    sim_state.revoke_key("acme-api-key")
    path = tmp_path / "sim" / "state.json"
    sim_state.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temp file left

    restored = SimulatorState()
    restored.load(path)
    assert restored.snapshot("acme") == sim_state.snapshot("acme")
    assert restored.search_people("acme", "ADA@example.com", limit=10, page=1)[1] == 1
    with pytest.raises(Exception, match="already a candidate"):
        restored.add_candidacy("acme", project_id, person_id=person["id"])


# -- the server object -------------------------------------------------------------------------


def test_server_binds_a_free_loopback_port_and_stops_cleanly() -> None:
    server = SimulatorServer()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with server:
        assert server.host == "127.0.0.1" and server.port > 0
        base_url = server.base_url
        assert base_url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base_url}/_admin/health").status_code == 200
    server.stop()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/_admin/health")


def test_server_applies_faults_given_at_start(sim_state: SimulatorState) -> None:
    with SimulatorServer(sim_state, faults=FaultConfig(error_rate=1.0, error_statuses=(502,))) as s:
        headers = {
            "X-API-Key": "acme-firm-service-key",
            "Authorization": f"Token {token('acme-api-key', 'acme-api-secret')}",
        }
        assert httpx.get(f"{s.base_url}/v3.0/acme/statuses", headers=headers).status_code == 502
        assert s.faults.error_statuses == (502,)


# -- mock transport parity ---------------------------------------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _scenario(client: httpx.Client) -> list[tuple[int, Any]]:
    """A tour of the contract; returns (status, body) with ids and timestamps normalised."""
    results: list[httpx.Response] = []
    call: Callable[..., httpx.Response] = client.request
    projects = call("GET", "/projects")
    project_id = projects.json()["projects"][0]["id"]
    person = call("POST", "/people", json={"person": {"name": "Ada Lovelace"}})
    person_id = person.json()["person"]["id"]
    results += [projects, person]
    results += [
        call("POST", "/people", json={"person": {"name": ""}}),
        call("POST", f"/people/{person_id}/email_addresses", json={"email": {"address": "a@b.co"}}),
        call("POST", f"/people/{person_id}/email_addresses", json={"email": {"address": "nope"}}),
        call("POST", f"/people/{person_id}/positions", json={"position": {"title": "CTO"}}),
        call(
            "POST",
            f"/people/{person_id}/linkedin_urls",
            json={"linkedin_url": {"url": "https://linkedin.com/in/ada"}},
        ),
        call("GET", "/people_search", params={"q": "A@B.CO", "limit": 5, "page": 1}),
        call("GET", "/people", params={"limit": 101}),
        call("GET", f"/people/{person_id}"),
        call("GET", f"/people/{uuid.uuid4()}"),
        call(
            "POST",
            f"/projects/{project_id}/candidacies",
            json={"candidacy": {"person_id": person_id}},
        ),
        call(
            "POST",
            f"/projects/{project_id}/candidacies",
            json={"candidacy": {"person_id": person_id}},
        ),
        call("GET", f"/projects/{project_id}/candidacies", params={"include": "person"}),
        call(
            "POST",
            f"/people/{person_id}/notes",
            json={"note": {"content": "<p>x</p>", "category": "Email"}},
        ),
        call("GET", f"/people/{person_id}/notes"),
        call("GET", "/statuses"),
        call("DELETE", f"/people/{person_id}"),
        call("GET", "/people", headers={"X-API-Key": "wrong"}),
    ]
    normalised = []
    for response in results:
        text = _UUID.sub("<id>", response.text)
        text = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "<ts>", text)
        normalised.append((response.status_code, text))
    return normalised


def test_mock_transport_answers_exactly_like_the_server(
    api: httpx.Client, sim_credentials: SimCredentials
) -> None:
    mock_state = SimulatorState()
    mock_state.add_firm(
        "acme",
        api_key=sim_credentials.api_key,
        api_secret=sim_credentials.api_secret,
        firm_service_key=sim_credentials.firm_service_key,
    )
    with httpx.Client(
        transport=mock_transport(mock_state),
        base_url="http://clockwork.test/v3.0/acme",
        headers=sim_credentials.auth_headers(),
    ) as mocked:
        assert _scenario(mocked) == _scenario(api)


def test_mock_transport_faults_raise_what_a_socket_would(sim_state: SimulatorState) -> None:
    injector = FaultInjector()
    headers = {
        "X-API-Key": "acme-firm-service-key",
        "Authorization": f"Token {token('acme-api-key', 'acme-api-secret')}",
    }
    with httpx.Client(
        transport=mock_transport(sim_state, injector),
        base_url="http://clockwork.test/v3.0/acme",
        headers=headers,
    ) as client:
        injector.configure(FaultConfig(drop_rate=1.0))
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/people", json={"person": {"name": "Dropped"}})
        injector.configure(FaultConfig(slow_rate=1.0))
        with pytest.raises(httpx.ReadTimeout):
            client.get("/statuses")
        injector.configure(FaultConfig(rate_limit_rps=1, burst=1))
        client.get("/statuses")
        response = client.get("/statuses")
        assert response.status_code == 429 and response.headers["Retry-After"] == "1"
        injector.configure(FaultConfig(latency_ms=60_000))  # not slept
        assert client.get("/statuses").status_code == 200
    assert [p["name"] for p in sim_state.snapshot("acme")["people"]] == ["Dropped"]


def test_mock_transport_uses_the_states_clock(sim_credentials: SimCredentials) -> None:
    state = SimulatorState(clock=lambda: datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    state.add_firm("acme", api_key="k", api_secret="s", firm_service_key="f")
    headers = {"X-API-Key": "f", "Authorization": f"Token {token('k', 's')}"}
    with httpx.Client(
        transport=mock_transport(state), base_url="http://x/v3.0/acme", headers=headers
    ) as client:
        person = client.post("/people", json={"person": {"name": "A B"}}).json()["person"]
    assert person["createdAt"] == "2024-01-02 03:04:05"


async def _async_get(transport: httpx.MockTransport, headers: dict[str, str]) -> int:
    async with httpx.AsyncClient(
        transport=transport, base_url="http://x/v3.0/acme", headers=headers
    ) as client:
        return (await client.get("/statuses")).status_code


def test_mock_transport_works_with_async_clients(
    sim_transport: httpx.MockTransport, sim_credentials: SimCredentials
) -> None:
    assert asyncio.run(_async_get(sim_transport, sim_credentials.auth_headers())) == 200


def test_server_round_trips_without_nagle_delay(api: httpx.Client) -> None:
    """Without TCP_NODELAY on the server side every response waits ~40 ms for a delayed ACK."""
    timings = sorted(api.get("/statuses").elapsed.total_seconds() for _ in range(21))
    assert timings[10] < 0.02


@pytest.mark.slow  # a process of its own
def test_run_simulator_serves_the_demo_firm_and_saves_its_state_on_stop(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state_file = tmp_path / "simulator.json"
    code = (
        "from clockwork_simulator import run_simulator; "
        f"run_simulator(port={port}, state_file={str(state_file)!r}, log_level='warning')"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:  # poll until the child accepts connections
            try:
                httpx.get(f"{base_url}/_admin/health")
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        demo_token = token(DEMO_API_KEY, DEMO_API_SECRET)
        headers = {"X-API-Key": DEMO_FIRM_SERVICE_KEY, "Authorization": f"Token {demo_token}"}
        response = httpx.post(
            f"{base_url}/v3.0/{DEMO_FIRM}/people",
            json={"person": {"name": "Kept Across Restarts"}},
            headers=headers,
        )
        assert response.status_code == 201
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr.decode()
    restored = SimulatorState()
    restored.load(state_file)
    assert [p["name"] for p in restored.snapshot(DEMO_FIRM)["people"]] == ["Kept Across Restarts"]


# -- dripped responses -------------------------------------------------------------------------


def _raw_get(port: int, path: str, headers: dict[str, str]) -> socket.socket:
    """A raw HTTP/1.1 GET on a fresh socket (to watch the bytes as they arrive)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def _received_within(sock: socket.socket, seconds: float) -> bytes:
    received = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(1024)
        except TimeoutError:
            break
        if not chunk:
            break
        received += chunk
    return received


def test_dripped_response_sends_even_the_status_line_one_byte_per_interval(
    simulator: SimulatorServer, sim_credentials: SimCredentials
) -> None:
    simulator.set_faults(FaultConfig(drip_rate=1.0, drip_interval_seconds=0.2))
    sock = _raw_get(simulator.port, "/v3.0/acme/statuses", sim_credentials.auth_headers())
    with sock:
        received = _received_within(sock, 0.7)
    # The first byte leaves at once, then one every 0.2 s: 4 bytes in 0.7 s, give or take one.
    assert 3 <= len(received) <= 5
    assert b"HTTP/1.1 200 OK".startswith(received)


def test_dripped_response_arrives_whole_after_the_write_was_applied(
    api: httpx.Client, simulator: SimulatorServer, sim_state: SimulatorState
) -> None:
    interval = 0.002
    simulator.set_faults(FaultConfig(drip_rate=1.0, drip_interval_seconds=interval))
    started = time.monotonic()
    response = api.post("/people", json={"person": {"name": "Drip Fed"}})
    elapsed = time.monotonic() - started
    assert response.status_code == 201
    assert response.json()["person"]["name"] == "Drip Fed"
    head = len(b"HTTP/1.1 201 Created\r\n") + sum(
        len(name) + len(value) + 4 for name, value in response.headers.raw
    )
    assert elapsed >= (head + len(response.content) - 1) * interval
    assert [p["name"] for p in sim_state.snapshot("acme")["people"]] == ["Drip Fed"]
    assert sim_state.answer_counts("acme")["faults"] == {"drip": 1}


def test_client_hanging_up_mid_drip_leaves_the_server_serving(
    api: httpx.Client, simulator: SimulatorServer, sim_credentials: SimCredentials
) -> None:
    simulator.set_faults(FaultConfig(drip_rate=1.0, drip_interval_seconds=5))
    sock = _raw_get(simulator.port, "/v3.0/acme/statuses", sim_credentials.auth_headers())
    with sock:
        assert _received_within(sock, 0.2) == b"H"
    simulator.set_faults(None)
    assert api.get("/statuses").status_code == 200


def test_drip_rate_shares_the_fault_budget_with_5xx_drops_and_slow_responses() -> None:
    with pytest.raises(ValidationError):
        FaultConfig(error_rate=0.5, drop_rate=0.2, slow_rate=0.2, drip_rate=0.2)
    with pytest.raises(ValidationError):
        FaultConfig(drip_interval_seconds=0)
    assert FaultConfig().drip_interval_seconds == 2.0
    assert FaultInjector(FaultConfig(drip_rate=1.0)).decide("acme").drip == 2.0


def test_mock_transport_streams_a_dripped_body_one_byte_per_interval(
    sim_state: SimulatorState, sim_credentials: SimCredentials
) -> None:
    interval = 0.001
    transport = mock_transport(
        sim_state, FaultConfig(drip_rate=1.0, drip_interval_seconds=interval)
    )
    with httpx.Client(
        transport=transport, base_url="http://x/v3.0/acme", headers=sim_credentials.auth_headers()
    ) as client:
        started = time.monotonic()
        with client.stream("POST", "/people", json={"person": {"name": "Slow Drip"}}) as response:
            headers_after = time.monotonic() - started
            chunks = list(response.iter_raw())
        elapsed = time.monotonic() - started
    assert response.status_code == 201 and "Date" in response.headers
    assert headers_after < 0.05  # status and headers at once; the body drips
    assert {len(chunk) for chunk in chunks} == {1}
    assert len(chunks) == int(response.headers["Content-Length"])
    assert elapsed >= (len(chunks) - 1) * interval
    assert [p["name"] for p in sim_state.snapshot("acme")["people"]] == ["Slow Drip"]


async def _async_read_dripped(transport: httpx.MockTransport, headers: dict[str, str]) -> bytes:
    async with httpx.AsyncClient(
        transport=transport, base_url="http://x/v3.0/acme", headers=headers
    ) as client:
        return (await client.get("/statuses")).content


def test_mock_transport_drips_for_async_clients_too(
    sim_state: SimulatorState, sim_credentials: SimCredentials
) -> None:
    transport = mock_transport(sim_state, FaultConfig(drip_rate=1.0, drip_interval_seconds=1e-4))
    body = asyncio.run(_async_read_dripped(transport, sim_credentials.auth_headers()))
    assert b'"statuses"' in body


# -- per-firm faults ---------------------------------------------------------------------------


def _add_globex(state: SimulatorState) -> dict[str, str]:
    state.add_firm("globex", api_key="g-key", api_secret="g-secret", firm_service_key="g-fsk")
    return {"X-API-Key": "g-fsk", "Authorization": f"Token {token('g-key', 'g-secret')}"}


def test_firm_faults_apply_to_that_firm_only(
    admin: httpx.Client, api: httpx.Client, simulator: SimulatorServer, sim_state: SimulatorState
) -> None:
    globex = _add_globex(sim_state)
    assert admin.put("/faults", json={"latency_ms": 1}).status_code == 200
    response = admin.put("/firms/acme/faults", json={"rate_limit_rps": 0.1, "burst": 1})
    assert response.status_code == 200 and response.json()["rate_limit_rps"] == 0.1
    assert [api.get("/statuses").status_code for _ in range(2)] == [200, 429]
    globex_statuses = [
        httpx.get(f"{simulator.base_url}/v3.0/globex/statuses", headers=globex).status_code
        for _ in range(3)
    ]
    assert globex_statuses == [200, 200, 200]
    own = admin.get("/firms/acme/faults").json()
    assert own["own"] is True and own["rate_limit_rps"] == 0.1 and own["latency_ms"] == 0
    inherited = admin.get("/firms/globex/faults").json()
    assert inherited["own"] is False and inherited["latency_ms"] == 1
    assert set(admin.get("/faults/firms").json()) == {"acme"}
    assert admin.get("/faults").json()["rate_limit_rps"] is None  # the global one is untouched


def test_firm_faults_are_removed_one_by_one_or_all_by_a_global_put(
    admin: httpx.Client, api: httpx.Client, sim_state: SimulatorState
) -> None:
    _add_globex(sim_state)
    throttle = {"rate_limit_rps": 0.1, "burst": 1}
    admin.put("/firms/acme/faults", json=throttle)
    admin.put("/firms/globex/faults", json={"drip_rate": 1.0})
    assert admin.delete("/firms/acme/faults").status_code == 204
    assert [api.get("/statuses").status_code for _ in range(2)] == [200, 200]
    assert set(admin.get("/faults/firms").json()) == {"globex"}
    admin.put("/firms/acme/faults", json=throttle)
    admin.put("/faults", json={})
    assert admin.get("/faults/firms").json() == {}
    assert [api.get("/statuses").status_code for _ in range(2)] == [200, 200]


def test_firm_faults_for_an_unknown_firm_or_an_invalid_config_are_refused(
    admin: httpx.Client,
) -> None:
    assert admin.put("/firms/nobody/faults", json={"drip_rate": 1}).status_code == 404
    assert admin.get("/firms/nobody/faults").status_code == 404
    assert admin.delete("/firms/nobody/faults").status_code == 404
    assert admin.put("/firms/acme/faults", json={"drip_rate": 2}).status_code == 422


def test_firm_config_keeps_its_own_bucket_and_leaves_the_others_alone() -> None:
    now = [0.0]
    injector = FaultInjector(FaultConfig(rate_limit_rps=10, burst=1), clock=lambda: now[0])
    injector.configure_firm("slow", FaultConfig(rate_limit_rps=1, burst=1))
    injector.configure_firm("drip", FaultConfig(drip_rate=1.0, drip_interval_seconds=3))
    assert [injector.decide("slow").status for _ in range(2)] == [None, 429]
    assert [injector.decide("fast").status for _ in range(2)] == [None, 429]
    now[0] += 0.1
    assert injector.decide("fast").status is None and injector.decide("slow").status == 429
    assert injector.decide("drip").drip == 3 and injector.decide("fast").drip == 0
    assert injector.firm_config("fast") is None
    assert set(injector.firm_configs()) == {"slow", "drip"}
    injector.configure_firm("slow", None)
    assert injector.firm_config("slow") is None and injector.decide("slow").status is None


def test_seeded_firm_configs_draw_independently_of_other_firms() -> None:
    config = FaultConfig(error_rate=0.5, seed=3)
    alone, crowded = FaultInjector(), FaultInjector(FaultConfig(error_rate=0.5, seed=9))
    alone.configure_firm("acme", config)
    crowded.configure_firm("acme", config)
    decisions = []
    for injector in (alone, crowded):
        seen = []
        for _ in range(20):
            seen.append(injector.decide("acme"))
            if injector is crowded:
                injector.decide("globex")  # another firm's traffic in between
        decisions.append(seen)
    assert decisions[0] == decisions[1]


# -- Date header and answer counts -------------------------------------------------------------

FIXED_NOW = datetime(2031, 5, 6, 7, 8, 9, 654321, tzinfo=UTC)
FIXED_DATE = "Tue, 06 May 2031 07:08:09 GMT"


def _fixed_clock_state() -> SimulatorState:
    state = SimulatorState(clock=lambda: FIXED_NOW)
    state.add_firm("acme", api_key="k", api_secret="s", firm_service_key="f")
    return state


def test_every_socket_response_carries_a_date_from_the_simulators_clock(
    simulator: SimulatorServer,
) -> None:
    simulator.use_state(_fixed_clock_state())
    simulator.set_faults(FaultConfig(rate_limit_rps=0.1, burst=1))
    headers = {"X-API-Key": "f", "Authorization": f"Token {token('k', 's')}"}
    base = simulator.base_url
    responses = [
        httpx.get(f"{base}/v3.0/acme/statuses", headers=headers),  # 200
        httpx.get(f"{base}/v3.0/acme/statuses", headers=headers),  # 429
        httpx.get(f"{base}/v3.0/nobody/statuses", headers=headers),  # unknown firm
        httpx.get(f"{base}/elsewhere"),  # outside the contract
        httpx.get(f"{base}/_admin/health"),
        httpx.put(f"{base}/_admin/faults", content=b"{bad json"),  # admin 422
    ]
    assert [r.status_code for r in responses] == [200, 429, 404, 404, 200, 422]
    for response in responses:
        assert response.headers.get_list("Date") == [FIXED_DATE]


def test_mock_transport_answers_carry_the_same_date_header() -> None:
    headers = {"X-API-Key": "f", "Authorization": f"Token {token('k', 's')}"}
    with httpx.Client(
        transport=mock_transport(_fixed_clock_state()), base_url="http://x", headers=headers
    ) as client:
        ok, outside = client.get("/v3.0/acme/statuses"), client.get("/v3.0/acme/nowhere")
    assert (ok.status_code, outside.status_code) == (200, 404)
    assert ok.headers["Date"] == outside.headers["Date"] == FIXED_DATE
    assert parsedate_to_datetime(ok.headers["Date"]) == FIXED_NOW.replace(microsecond=0)


def test_admin_answers_count_statuses_faults_and_the_last_success(
    admin: httpx.Client, api: httpx.Client, simulator: SimulatorServer
) -> None:
    assert admin.get("/firms/acme/answers").json() == {
        "total": 0,
        "statuses": {},
        "faults": {},
        "ok": 0,
        "first_request_at": None,
        "last_success_at": None,
    }
    simulator.set_faults(FaultConfig(rate_limit_rps=0.1, burst=1))
    api.get("/statuses")
    api.get("/statuses")
    api.get(f"/people/{uuid.uuid4()}")
    simulator.set_faults(FaultConfig(drop_rate=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        api.get("/statuses")
    answers = admin.get("/firms/acme/answers").json()
    assert answers["total"] == 4
    assert answers["statuses"] == {"200": 2, "429": 2}
    assert answers["faults"] == {"drop": 1}
    assert answers["ok"] == 1  # the dropped 200 is not a success
    first = datetime.fromisoformat(answers["first_request_at"])
    last = datetime.fromisoformat(answers["last_success_at"])
    assert first == last
    assert admin.get("/firms/nobody/answers").status_code == 404


def test_server_sets_one_firms_faults_and_set_faults_clears_them(
    api: httpx.Client, simulator: SimulatorServer
) -> None:
    simulator.set_firm_faults("acme", FaultConfig(error_rate=1.0, error_statuses=(503,)))
    assert api.get("/statuses").status_code == 503
    simulator.set_faults(None)
    assert api.get("/statuses").status_code == 200

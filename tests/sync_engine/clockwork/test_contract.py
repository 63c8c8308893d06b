"""ClockworkClient against the project's simulator on a real loopback socket: every route the
client sends, the failures the engine must tell apart, and parity with the `mock_transport` path.

What reached Clockwork is read from the simulator's own state (``SimulatorState.snapshot``), not
through the client under test."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, Literal

import httpx
import pytest

from clockwork_simulator import (
    ROUTE_TEMPLATES,
    FaultConfig,
    SimulatorServer,
    SimulatorState,
    mock_transport,
)
from sync_engine.clockwork.client import CallRecord, ClockworkClient, Credentials
from sync_engine.clockwork.contract import Endpoint
from sync_engine.clockwork.errors import (
    ClockworkAuthError,
    ClockworkError,
    ClockworkNetworkError,
    ClockworkNotFound,
    ClockworkRateLimited,
    ClockworkServerError,
    ClockworkTimeout,
    ClockworkValidationError,
)
from tests.sync_engine.clockwork.conftest import SimCredentials

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
TIMEOUT = httpx.Timeout(10.0)
"""Ample on a loaded machine: only the timeout tests want an answer cut short."""
SHORT_TIMEOUT = httpx.Timeout(2.0, read=0.3)


def credentials_of(sim: SimCredentials, **changes: str) -> Credentials:
    """The client's credentials for the simulator firm, with ``changes`` applied."""
    fields = {
        "firm": sim.firm,
        "api_key": sim.api_key,
        "api_secret": sim.api_secret,
        "firm_service_key": sim.firm_service_key,
        "base_url": sim.base_url,
    }
    return Credentials(**{**fields, **changes})


@pytest.fixture
def records() -> list[CallRecord]:
    """The call log of the `client` fixture."""
    return []


@pytest.fixture
def client(sim_credentials: SimCredentials, records: list[CallRecord]) -> Iterator[ClockworkClient]:
    """A client of the live simulator's "acme" firm, logging its calls into `records`."""
    with ClockworkClient(
        credentials_of(sim_credentials), timeout=TIMEOUT, on_call=records.append
    ) as live:
        yield live


@pytest.fixture
def impatient_client(
    sim_credentials: SimCredentials, records: list[CallRecord]
) -> Iterator[ClockworkClient]:
    """Like `client`, but an answer slower than 0.3 s is a timeout."""
    with ClockworkClient(
        credentials_of(sim_credentials), timeout=SHORT_TIMEOUT, on_call=records.append
    ) as impatient:
        yield impatient


@pytest.fixture
def make_client(sim_credentials: SimCredentials) -> Iterator[Callable[..., ClockworkClient]]:
    """Builds other clients of the live simulator (other keys or firm), closed at the end."""
    clients: list[ClockworkClient] = []

    def build(**changes: str) -> ClockworkClient:
        built = ClockworkClient(credentials_of(sim_credentials, **changes), timeout=TIMEOUT)
        clients.append(built)
        return built

    yield build
    for built in clients:
        built.close()


# ── every endpoint ────────────────────────────────────────────────────────────────────────────


def test_every_endpoint_round_trips_and_nothing_outside_the_contract_is_sent(
    client: ClockworkClient,
    sim_state: SimulatorState,
    records: list[CallRecord],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="clockwork_simulator")
    client.check_credentials()

    person = client.create_person(first_name="Grace", last_name="Hopper")
    person_id = person["id"]
    assert (person["name"], person["emails"]) == ("Grace Hopper", None)
    email = client.add_email(person_id, "grace@navy.example")
    position = client.add_position(person_id, title="Rear Admiral", company_name="US Navy")
    linkedin = client.add_linkedin_url(person_id, "https://www.linkedin.com/in/grace-hopper")
    assert email["address"] == "grace@navy.example"
    assert (position["title"], position["companyName"]) == ("Rear Admiral", "US Navy")
    assert linkedin["url"] == "https://www.linkedin.com/in/grace-hopper"

    fetched = client.get_person(person_id)
    assert fetched["preferredEmailAddress"] == "grace@navy.example"
    assert fetched["preferredLinkedinUrl"] == "https://www.linkedin.com/in/grace-hopper"
    assert [p["companyName"] for p in fetched["positions"]] == ["US Navy"]
    assert sim_state.snapshot("acme")["people"] == [fetched]
    assert list(client.iter_search("hopper")) == [fetched]
    assert client.find_people_by_email(" GRACE@navy.example ") == [fetched]

    projects = list(client.iter_projects())
    assert projects == sim_state.snapshot("acme")["projects"]
    assert len(projects) == 4
    assert list(client.iter_projects(page_size=3)) == projects
    project_id = projects[0]["id"]
    added = client.add_candidacy(project_id, person_id)
    assert not added.already_present
    assert added.candidacy is not None
    assert (added.candidacy["personId"], added.candidacy["projectId"]) == (person_id, project_id)
    (listed,) = client.iter_candidacies(project_id)
    assert (listed["id"], listed["personId"]) == (added.candidacy["id"], person_id)
    assert sim_state.snapshot("acme")["candidacies"] == [listed]

    note = client.create_note(person_id, content_html="<p>Replied to <b>Intro</b></p>")
    assert (note["contentType"], note["category"]) == ("text/html", "Email")
    assert list(client.iter_notes(person_id)) == [note]
    assert sim_state.snapshot("acme")["notes"] == [note]
    statuses = sim_state.snapshot("acme")["statuses"]
    assert added.candidacy["statusId"] == next(s["id"] for s in statuses if s["name"] == "Research")

    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    client_routes = {f"{e.value.method} {e.value.path_template}" for e in Endpoint}
    assert set(sim_state.request_counts("acme")["routes"]) == client_routes
    assert {f"{r.method} {r.path_template}" for r in records} == client_routes
    assert all(r.status is not None and 200 <= r.status < 300 for r in records)
    # The one contract route the engine has no use for: the firm's candidacy statuses.
    assert set(ROUTE_TEMPLATES) - client_routes == {"GET /statuses"}


def test_adding_a_person_already_in_the_project_is_a_confirmed_success(
    client: ClockworkClient, sim_state: SimulatorState
) -> None:
    person = sim_state.seed_person("acme", first_name="Alan", last_name="Turing")
    project_id = sim_state.snapshot("acme")["projects"][0]["id"]
    first = client.add_candidacy(project_id, person["id"])

    again = client.add_candidacy(project_id, person["id"])

    assert again.already_present
    assert first.candidacy is not None
    assert again.candidacy is not None
    assert again.candidacy["id"] == first.candidacy["id"]
    assert len(sim_state.snapshot("acme")["candidacies"]) == 1


def test_create_person_does_not_dedupe_and_lookup_returns_both_oldest_first(
    client: ClockworkClient, sim_state: SimulatorState
) -> None:
    seeded = sim_state.seed_person(
        "acme", first_name="Ada", last_name="Lovelace", emails=["Ada@Example.com"]
    )
    created = client.create_person(first_name="Ada", last_name="Lovelace")
    client.add_email(created["id"], "ada@example.com")
    sim_state.seed_person("acme", first_name="Ada", last_name="Byron", emails=["byron@example.com"])

    found = client.find_people_by_email("ada@example.com")

    assert [p["id"] for p in found] == [seeded["id"], created["id"]]


def test_find_by_email_walks_search_pages_on_the_server(
    client: ClockworkClient, sim_state: SimulatorState, records: list[CallRecord]
) -> None:
    for n in range(120):
        if n in (3, 110):
            sim_state.seed_person(
                "acme", first_name="Ada", last_name=f"No{n}", emails=["ada@example.com"]
            )
        else:  # a name-only hit: the search matches names containing the query
            sim_state.seed_person("acme", first_name="ada@example.com", last_name=f"No{n}")

    found = client.find_people_by_email("ada@example.com")

    assert [p["lastName"] for p in found] == ["No3", "No110"]
    assert [r.path_template for r in records] == ["/people_search", "/people_search"]


# ── failures ──────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "changes",
    [
        {"api_key": "not-a-key"},
        {"api_secret": "wrong-secret"},
        {"firm_service_key": "wrong-firm-service-key"},
    ],
    ids=["api key", "api secret", "firm service key"],
)
def test_wrong_credentials_are_an_auth_error(
    make_client: Callable[..., ClockworkClient], changes: dict[str, str]
) -> None:
    with pytest.raises(ClockworkAuthError) as raised:
        make_client(**changes).check_credentials()
    assert raised.value.status == 401
    assert raised.value.message


def test_a_revoked_key_is_an_auth_error_until_restored(
    client: ClockworkClient, sim_state: SimulatorState, sim_credentials: SimCredentials
) -> None:
    client.check_credentials()
    sim_state.revoke_key(sim_credentials.api_key)
    with pytest.raises(ClockworkAuthError, match="revoked"):
        list(client.iter_projects())
    sim_state.restore_key(sim_credentials.api_key)
    client.check_credentials()


def test_an_unknown_firm_is_not_found(make_client: Callable[..., ClockworkClient]) -> None:
    with pytest.raises(ClockworkNotFound) as raised:
        make_client(firm="no-such-firm").check_credentials()
    assert raised.value.status == 404


def test_unknown_person_and_project_are_not_found(client: ClockworkClient) -> None:
    with pytest.raises(ClockworkNotFound):
        client.get_person(UNKNOWN_ID)
    with pytest.raises(ClockworkNotFound):
        list(client.iter_notes(UNKNOWN_ID))
    with pytest.raises(ClockworkNotFound):
        client.add_candidacy(UNKNOWN_ID, UNKNOWN_ID)


def test_invalid_writes_are_validation_errors_with_the_apis_field_errors(
    client: ClockworkClient, sim_state: SimulatorState
) -> None:
    person_id = sim_state.seed_person("acme", first_name="Ada", last_name="L")["id"]
    project_id = sim_state.snapshot("acme")["projects"][0]["id"]

    with pytest.raises(ClockworkValidationError) as bad_email:
        client.add_email(person_id, "not-an-email")
    assert bad_email.value.status == 422
    assert set(bad_email.value.field_errors) == {"address"}
    assert "address" in bad_email.value.message

    with pytest.raises(ClockworkValidationError) as bad_url:
        client.add_linkedin_url(person_id, "https://example.com/ada")
    assert set(bad_url.value.field_errors) == {"url"}

    with pytest.raises(ClockworkValidationError):
        client.create_note(person_id, content_html="   ")

    with pytest.raises(ClockworkValidationError) as unknown_person:
        client.add_candidacy(project_id, UNKNOWN_ID)
    assert set(unknown_person.value.field_errors) == {"person_id"}


@pytest.mark.parametrize(
    ("retry_after_form", "low", "high"),
    [("seconds", 95.0, 100.0), ("http_date", 95.0, 102.0), ("none", None, None)],
)
def test_rate_limit_is_rate_limited_with_retry_after_in_either_form(
    client: ClockworkClient,
    simulator: SimulatorServer,
    retry_after_form: Literal["seconds", "http_date", "none"],
    low: float | None,
    high: float | None,
) -> None:
    simulator.set_faults(FaultConfig(rate_limit_rps=0.01, burst=1, retry_after=retry_after_form))
    client.check_credentials()
    with pytest.raises(ClockworkRateLimited) as raised:
        client.check_credentials()
    error = raised.value
    assert error.status == 429
    if low is None or high is None:
        assert error.retry_after is None
    else:
        assert error.retry_after is not None
        assert low <= error.retry_after <= high


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient_server_errors(
    client: ClockworkClient, simulator: SimulatorServer, status: int
) -> None:
    simulator.set_faults(FaultConfig(error_rate=1.0, error_statuses=(status,)))
    with pytest.raises(ClockworkServerError) as raised:
        list(client.iter_projects())
    assert raised.value.status == status


def test_a_response_slower_than_the_client_timeout_is_a_timeout(
    impatient_client: ClockworkClient, simulator: SimulatorServer, records: list[CallRecord]
) -> None:
    simulator.set_faults(FaultConfig(slow_rate=1.0, slow_seconds=30))
    with pytest.raises(ClockworkTimeout) as raised:
        impatient_client.check_credentials()
    assert raised.value.status is None
    assert records[-1].status is None
    assert records[-1].latency_ms < 5000


def test_a_dropped_connection_is_a_network_error(
    client: ClockworkClient, simulator: SimulatorServer
) -> None:
    simulator.set_faults(FaultConfig(drop_rate=1.0))
    with pytest.raises(ClockworkNetworkError) as raised:
        client.check_credentials()
    assert not isinstance(raised.value, ClockworkTimeout)
    assert raised.value.status is None


def test_a_write_that_times_out_may_still_have_landed(
    impatient_client: ClockworkClient, simulator: SimulatorServer, sim_state: SimulatorState
) -> None:
    simulator.set_faults(FaultConfig(slow_rate=1.0, slow_seconds=30))
    with pytest.raises(ClockworkTimeout):
        impatient_client.create_person(first_name="Ada", last_name="Lovelace")
    simulator.set_faults(None)
    assert [p["name"] for p in sim_state.snapshot("acme")["people"]] == ["Ada Lovelace"]


# ── parity: the same calls through mock_transport and through the socket ──────────────────────


def outcome(call: Callable[[ClockworkClient], Any], client: ClockworkClient) -> Any:
    """What ``call(client)`` returns, or (error class, status, message) when it raises."""
    try:
        result = call(client)
        return list(result) if isinstance(result, Iterator) else result
    except ClockworkError as error:
        return (type(error), error.status, error.message)


def test_mock_transport_and_real_socket_give_the_same_results(
    client: ClockworkClient, sim_state: SimulatorState, sim_credentials: SimCredentials
) -> None:
    ada = sim_state.seed_person(
        "acme",
        first_name="Ada",
        last_name="Lovelace",
        emails=["ada@example.com", "countess@example.org"],
        title="Analyst",
        company="Analytical Engines",
        linkedin_urls=["https://www.linkedin.com/in/ada"],
    )
    project_id = sim_state.snapshot("acme")["projects"][0]["id"]
    client.add_candidacy(project_id, ada["id"])
    client.create_note(ada["id"], content_html="<p>Opened</p>")

    calls: list[Callable[[ClockworkClient], Any]] = [
        lambda c: c.check_credentials(),
        lambda c: c.iter_search("lovelace"),
        lambda c: c.find_people_by_email("COUNTESS@example.org"),
        lambda c: c.get_person(ada["id"]),
        lambda c: c.get_person(UNKNOWN_ID),
        lambda c: c.iter_projects(page_size=3),
        lambda c: c.iter_candidacies(project_id),
        lambda c: c.add_candidacy(project_id, ada["id"]),
        lambda c: c.iter_notes(ada["id"]),
        lambda c: c.add_email(ada["id"], "nope"),
    ]
    with ClockworkClient(
        credentials_of(sim_credentials), transport=mock_transport(sim_state)
    ) as in_memory:
        for call in calls:
            assert outcome(call, in_memory) == outcome(call, client)

"""The simulator's read-only person page, and the Contacts link that opens it in a demo (issue 13
item 9): "Open the person in Clockwork" must open something on a machine with no network."""

from __future__ import annotations

import re

import httpx
import pytest

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.engine.passes import Engine
from sync_engine.services.queries import contact_table
from tests.factories import SIM_FIRM, enroll, make_connected_account, make_runtime, make_sequence

HOSTILE = '<script>alert("x")</script><img src=//evil.example/x.png>'


def _person(sim: SimulatorState) -> dict:
    person = sim.seed_person(
        SIM_FIRM,
        first_name=HOSTILE,
        last_name="O'Brien & Co",
        emails=["grace@example.com"],
        title="CTO <b>bold</b>",
        company="Northwind",
        linkedin_urls=["https://www.linkedin.com/in/grace"],
    )
    project = sim.snapshot(SIM_FIRM)["projects"][0]
    sim.add_candidacy(SIM_FIRM, project["id"], person_id=person["id"])
    sim.create_note(
        SIM_FIRM,
        person["id"],
        content="<p>Replied to <a href='https://evil.example'>Quick intro</a></p><script>x()</script>",
        content_type="text/html",
        category="Email",
    )
    return person | {"project": project["name"]}


def test_the_person_page_shows_the_person_escaped_with_projects_and_notes(
    sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    person = _person(sim)
    response = httpx.get(f"{sim_server.base_url}/people/{SIM_FIRM}/{person['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert "<script" not in page and "<img" not in page and "<a " not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "O&#x27;Brien &amp; Co" in page
    assert "grace@example.com" in page and "https://www.linkedin.com/in/grace" in page
    assert "CTO &lt;b&gt;bold&lt;/b&gt; at Northwind" in page
    assert person["project"] in page and "Research" in page
    assert "Replied to Quick intro" in page and "evil.example'" not in page


def test_the_person_page_needs_no_credentials_and_is_not_a_contract_call(
    sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    person = _person(sim)
    before = sim.request_counts(SIM_FIRM)["total"]
    assert httpx.get(f"{sim_server.base_url}/people/{SIM_FIRM}/{person['id']}").is_success
    assert sim.request_counts(SIM_FIRM)["total"] == before
    # Read-only: nothing but GET (and HEAD) reaches it.
    post = httpx.post(f"{sim_server.base_url}/people/{SIM_FIRM}/{person['id']}", json={})
    assert post.status_code >= 400 and "text/html" not in post.headers.get("content-type", "")


@pytest.mark.parametrize(
    "path",
    [f"/people/{SIM_FIRM}/no-such-person", "/people/nofirm/x", f"/people/{SIM_FIRM}/%3Cscript%3E"],
)
def test_an_unknown_person_or_firm_is_an_escaped_404_page(
    sim: SimulatorState, sim_server: SimulatorServer, path: str
) -> None:
    response = httpx.get(f"{sim_server.base_url}{path}")
    assert response.status_code == 404 and "<h1>Not found</h1>" in response.text
    assert "<script" not in response.text


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765/people/acme/p-1"),
        ("http://localhost:9000/", "http://localhost:9000/people/acme/p-1"),
        ("http://[::1]:9000", "http://[::1]:9000/people/acme/p-1"),
        ("https://api.clockworkrecruiting.com", "https://acme.clockworkrecruiting.com/firm/people#id:p-1"),
        ("https://sandbox.example.com", "https://acme.clockworkrecruiting.com/firm/people#id:p-1"),
    ],
)  # fmt: skip
def test_the_person_link_points_at_the_simulator_only_when_it_is_on_this_machine(
    base_url: str, expected: str
) -> None:
    assert contact_table.person_url("acme", "p-1", base_url=base_url) == expected


def test_a_synced_contacts_link_opens_its_person_in_the_simulator(
    sqlite_url: str, sim: SimulatorState, sim_server: SimulatorServer
) -> None:
    runtime = make_runtime(sqlite_url, default_max_rps=500)
    account_id = make_connected_account(runtime, base_url=sim_server.base_url)
    enroll(runtime, make_sequence(runtime, account_id), "ada@example.com", first_name="Ada")
    Engine(runtime).run_until_idle(timeout=30)
    with runtime.db.read() as session:
        (row,) = contact_table.list_enrollments(
            session=session, where=contact_table.EnrollmentFilter(account_id=account_id)
        )
    runtime.close()
    assert row.status == "synced" and row.person_url is not None
    assert row.person_url.startswith(f"{sim_server.base_url}/people/{SIM_FIRM}/")
    page = httpx.get(row.person_url)
    assert page.status_code == 200 and "ada@example.com" in page.text
    assert re.search(r"<h1>Ada\b", page.text)

"""Fix the contact, then Retry (issue 13 item 3): the field Clockwork refused is named from the
stored error, an admin's correction is validated like an import row and audited, and a retry
sends the corrected data to Clockwork, counting its attempts after the first round's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select

from clockwork_simulator import SimulatorServer, SimulatorState
from sync_engine.engine.passes import Engine
from sync_engine.engine.pipeline import PipelineConfig
from sync_engine.models import AuditEntry, Contact, Enrollment, Reason
from sync_engine.runtime import Runtime
from sync_engine.services import actions, contact_edits, events
from sync_engine.services.contact_edits import RefusedField, refused_field
from sync_engine.services.errors import InvalidInputError
from sync_engine.services.queries import history
from tests.factories import (
    REFUSED_LINKEDIN_URL,
    SIM_FIRM,
    FakeClock,
    enroll,
    enroll_refused_contact,
    make_connected_account,
    make_runtime,
)
from tests.factories import make_sequence as sequence_of

GOOD_URL = "https://www.linkedin.com/in/frances-allen"
REFUSED = (
    "POST /people/{id}/linkedin_urls -> HTTP 422: Validation failed: url is not a LinkedIn URL"
)


@pytest.mark.parametrize(
    ("reason", "error", "expected"),
    [
        (
            Reason.VALIDATION_ERROR,
            REFUSED,
            RefusedField(("linkedin_url",), "url is not a LinkedIn URL"),
        ),
        (
            Reason.VALIDATION_ERROR,
            "POST /people/{id}/email_addresses -> HTTP 422: Validation failed: address is not a "
            "valid email address",
            RefusedField(("email",), "address is not a valid email address"),
        ),
        (
            Reason.VALIDATION_ERROR,
            "POST /people/{id}/positions -> HTTP 422: companyName is too long",
            RefusedField(("company",), "companyName is too long"),
        ),
        (
            Reason.VALIDATION_ERROR,
            "POST /people/{id}/positions -> HTTP 400: HTTP 400 Bad Request",
            RefusedField(("title", "company"), "HTTP 400 Bad Request"),
        ),
        (
            Reason.VALIDATION_ERROR,
            "POST /people -> HTTP 422: Validation failed: name can't be blank",
            RefusedField(("first_name", "last_name"), "name can't be blank"),
        ),
        (
            Reason.INVALID_EMAIL,
            "invalid email 'ada@': There must be something after the @-sign.",
            RefusedField(
                ("email",), "invalid email 'ada@': There must be something after the @-sign."
            ),
        ),
        # Not the contact's data: a project, a note, a failure that is no refusal, no error.
        (
            Reason.VALIDATION_ERROR,
            "POST /projects/{id}/candidacies -> HTTP 422: person_id does not match any person",
            None,
        ),
        (
            Reason.VALIDATION_ERROR,
            "POST /people/{id}/notes -> HTTP 422: content can't be blank",
            None,
        ),
        (Reason.CLOCKWORK_UNAVAILABLE, "GET /people_search -> HTTP 503: unavailable", None),
        (Reason.VALIDATION_ERROR, "something else entirely", None),
        (Reason.VALIDATION_ERROR, None, None),
        (None, None, None),
    ],
)
def test_the_refused_field_is_read_from_the_stored_error(
    reason: str | None, error: str | None, expected: RefusedField | None
) -> None:
    assert refused_field(reason=reason, last_error=error) == expected


# --- against the simulator, through the engine ----------------------------------------------


@pytest.fixture
def rt(database_url: str, clock: FakeClock, sim: SimulatorState) -> Iterator[Runtime]:
    runtime = make_runtime(database_url, clock=clock, default_max_rps=500, http_timeout_seconds=2)
    yield runtime
    runtime.close()


@pytest.fixture
def engine(rt: Runtime) -> Engine:
    return Engine(rt, config=PipelineConfig(max_attempts=1, backoff_base=2, backoff_cap=60))


@pytest.fixture
def frances(rt: Runtime, engine: Engine, sim_server: SimulatorServer) -> int:
    """The demo's refused contact: created in Clockwork, then its LinkedIn URL refused (422)."""
    account_id = make_connected_account(rt, base_url=sim_server.base_url)
    enrollment_id = enroll_refused_contact(rt, sequence_of(rt, account_id))
    engine.run_pass()
    assert _enrollment(rt, enrollment_id)["status"] == "failed"
    return enrollment_id


def _enrollment(rt: Runtime, enrollment_id: int) -> dict[str, Any]:
    with rt.db.read() as session:
        return events.get_enrollment(session=session, enrollment_id=enrollment_id).model_dump()


def _correct(rt: Runtime, enrollment_id: int, actor: str = "Dana", **fields: str) -> dict:
    with rt.db.write() as session:
        return contact_edits.correct_contact(
            session=session, enrollment_id=enrollment_id, fields=fields, actor=actor,
        )  # fmt: skip


def _retry(rt: Runtime, enrollment_id: int) -> None:
    with rt.db.write() as session:
        assert actions.retry_enrollments(
            session=session, enrollment_ids=[enrollment_id], actor="Dana"
        ) == 1  # fmt: skip


def _contact_audit(rt: Runtime) -> list[tuple[str, str, str | None, str | None]]:
    with rt.db.read() as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.entity == "contact")).all()
        return [(e.actor, e.field, e.old_value, e.new_value) for e in entries]


def _attempts_in_timeline(rt: Runtime, enrollment_id: int) -> int:
    with rt.db.read() as session:
        detail = history.enrollment_detail(session=session, enrollment_id=enrollment_id)
    return sum(1 for event in detail.timeline if event.event == "Sync attempt")


def test_the_refused_linkedin_url_is_shown_with_what_clockwork_already_has(
    rt: Runtime, frances: int
) -> None:
    with rt.db.read() as session:
        contact = contact_edits.contact_for_correction(session=session, enrollment_id=frances)
    assert contact.refused == RefusedField(("linkedin_url",), "url is not a LinkedIn URL")
    assert contact.values["linkedin_url"] == REFUSED_LINKEDIN_URL
    # The person was created with the name, email and position: only the URL is still to send.
    assert contact.sent == ("email", "first_name", "last_name", "title", "company")
    assert contact.enrollments == 1


def test_fixing_the_url_then_retrying_syncs_it_to_clockwork(
    rt: Runtime, engine: Engine, frances: int, sim: SimulatorState
) -> None:
    changed = _correct(rt, frances, linkedin_url="linkedin.com/in/frances-allen")

    assert changed == {
        "linkedin_url": (REFUSED_LINKEDIN_URL, "https://linkedin.com/in/frances-allen")
    }
    assert _contact_audit(rt) == [
        ("Dana", "linkedin_url", REFUSED_LINKEDIN_URL, "https://linkedin.com/in/frances-allen")
    ]
    assert _enrollment(rt, frances)["status"] == "failed"  # Retry is the next, separate step
    _retry(rt, frances)
    with rt.db.read() as session:
        row = history.enrollment_detail(session=session, enrollment_id=frances).row
    assert (row.status, row.status_label) == ("queued", "Queued")

    engine.run_pass()

    assert _enrollment(rt, frances)["status"] == "synced"
    (person,) = sim.snapshot(SIM_FIRM)["people"]
    assert [link["url"] for link in person["linkedinUrls"]] == [
        "https://linkedin.com/in/frances-allen"
    ]
    assert len(person["emails"]) == 1 and len(person["positions"]) == 1  # nothing sent twice


def test_attempts_made_count_every_round_as_the_timeline_does(
    rt: Runtime, engine: Engine, frances: int
) -> None:
    with rt.db.read() as session:
        assert actions.attempts_made(session=session, enrollment_id=frances) == 1
    _retry(rt, frances)  # not fixed: Clockwork refuses it again
    engine.run_pass()

    assert _enrollment(rt, frances)["status"] == "failed"
    with rt.db.read() as session:
        made = actions.attempts_made(session=session, enrollment_id=frances)
    assert made == _attempts_in_timeline(rt, frances) == 2
    assert _enrollment(rt, frances)["attempts"] == 1  # the round's count, toward the cap


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"email": "frances@"}, "^Email: invalid email"),
        ({"email": ""}, "^Email: email is empty"),
        ({"linkedin_url": "https://example.com/in/frances"}, "^LinkedIn URL: .* linkedin.com"),
        ({"linkedin_url": "ftp://linkedin.com/in/frances"}, "^LinkedIn URL: .* web address"),
        ({"title": "Manager\nof things"}, "^Title: contains a line break"),
        ({"company": "x" * 301}, "^Company: "),
        ({"phone": "555"}, "^not a field of a contact: phone$"),
    ],
)
def test_a_correction_is_validated_like_an_import_row_and_changes_nothing_when_refused(
    rt: Runtime, frances: int, fields: dict[str, str], problem: str
) -> None:
    before = _enrollment(rt, frances)
    with pytest.raises(InvalidInputError, match=problem):
        _correct(rt, frances, **fields)
    with rt.db.read() as session:
        contact = session.exec(select(Contact)).one()
    assert (
        contact.linkedin_url == REFUSED_LINKEDIN_URL
        and contact.email == "frances.allen@litware.com"
    )
    assert _contact_audit(rt) == []
    assert _enrollment(rt, frances) == before


def test_a_corrected_email_is_normalised_and_must_not_be_another_contacts(
    rt: Runtime, frances: int
) -> None:
    account_id = _enrollment(rt, frances)["account_id"]
    enroll(rt, sequence_of(rt, account_id, "Other"), "grace@northwind.com")
    with pytest.raises(InvalidInputError, match=r"^Email: another contact of this account"):
        _correct(rt, frances, email="  Grace@Northwind.COM ")

    assert _correct(rt, frances, email="  Frances.Allen@Litware.IO ") == {
        "email": ("frances.allen@litware.com", "frances.allen@litware.io")
    }


def test_an_unchanged_correction_is_not_audited(rt: Runtime, frances: int) -> None:
    assert _correct(rt, frances, first_name=" Frances ", linkedin_url=REFUSED_LINKEDIN_URL) == {}
    assert _contact_audit(rt) == []


def test_a_contact_being_synced_is_not_corrected(rt: Runtime, frances: int) -> None:
    with rt.db.write() as session:
        enrollment = session.get(Enrollment, frances)
        assert enrollment is not None
        enrollment.lease_owner = "worker-1"
        session.add(enrollment)
    with pytest.raises(InvalidInputError, match="being synced right now"):
        _correct(rt, frances, linkedin_url=GOOD_URL)
    assert _contact_audit(rt) == []

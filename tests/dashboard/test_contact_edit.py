"""The Contacts page's enrollment detail for a contact Clockwork refused (issue 13 item 3): it
names the refused field, an admin corrects the contact there (audited under their name) and
retries; "Attempts" in the header counts what the timeline lists; a viewer sees no form."""

from __future__ import annotations

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from clockwork_simulator import SimulatorServer
from sync_engine.engine.passes import Engine
from sync_engine.engine.pipeline import PipelineConfig
from sync_engine.models import AuditEntry, Contact
from sync_engine.runtime import Runtime
from sync_engine.services import actions, events
from tests.dashboard.conftest import ADMIN, VIEWER, by_label, open_page, texts
from tests.factories import (
    REFUSED_LINKEDIN_URL,
    enroll_refused_contact,
    make_connected_account,
    make_sequence,
)

GOOD_URL = "https://www.linkedin.com/in/frances-allen"


@pytest.fixture
def engine(store: Runtime) -> Engine:
    return Engine(store, config=PipelineConfig(max_attempts=1, backoff_base=2, backoff_cap=60))


@pytest.fixture
def refused(store: Runtime, simulator: SimulatorServer, engine: Engine) -> int:
    """An enrollment whose LinkedIn URL Clockwork refused (a 422), as in the demo."""
    account_id = make_connected_account(store, base_url=simulator.base_url)
    enrollment_id = enroll_refused_contact(store, make_sequence(store, account_id))
    engine.run_pass()
    return enrollment_id


def _detail(enrollment_id: int, *, user: str = ADMIN) -> AppTest:
    app = open_page("contacts", user=user)
    app.query_params["enrollment"] = str(enrollment_id)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def _metric(app: AppTest, label: str) -> str:
    return str(by_label(app.metric, label).value)


def _timeline_attempts(app: AppTest) -> int:
    timeline = app.dataframe[-1].value
    return int((timeline["Event"] == "Sync attempt").sum())


def test_the_refused_field_is_named_and_an_admin_fixes_it_then_retries(
    store: Runtime, refused: int
) -> None:
    app = _detail(refused)
    assert _metric(app, "Status") == "Failed"
    assert "**LinkedIn URL** was refused: url is not a LinkedIn URL" in texts(app)
    assert by_label(app.expander, "Fix the contact").proto.expanded
    field = app.text_input(key=f"fix_{refused}_linkedin_url")
    assert field.value == REFUSED_LINKEDIN_URL

    field.set_value(GOOD_URL)
    by_label(app.button, "Save the contact").click().run()

    assert not app.exception, [e.value for e in app.exception]
    with store.db.read() as session:
        contact = session.exec(select(Contact)).one()
        entries = session.exec(select(AuditEntry).where(AuditEntry.entity == "contact")).all()
    assert contact.linkedin_url == GOOD_URL
    assert [(e.actor, e.field, e.old_value, e.new_value) for e in entries] == [
        (ADMIN, "linkedin_url", REFUSED_LINKEDIN_URL, GOOD_URL)
    ]

    by_label(app.button, "Retry").click().run()

    assert not app.exception, [e.value for e in app.exception]
    assert _metric(app, "Status") == "Queued"
    assert "was refused" not in texts(app)
    with store.db.read() as session:
        assert events.get_enrollment(session=session, enrollment_id=refused).status == "queued"


def test_attempts_in_the_header_count_what_the_timeline_lists_after_a_retry(
    store: Runtime, refused: int, engine: Engine
) -> None:
    with store.db.write() as session:
        actions.retry_enrollments(session=session, enrollment_ids=[refused], actor="test")
    engine.run_pass()  # refused again: the URL was not fixed

    app = _detail(refused)

    assert _metric(app, "Status") == "Failed"
    assert _timeline_attempts(app) == 2
    assert _metric(app, "Attempts") == "2"


def test_a_viewer_sees_the_refused_field_but_no_correction_form(
    store: Runtime, refused: int
) -> None:
    app = _detail(refused, user=VIEWER)
    assert "**LinkedIn URL** was refused: url is not a LinkedIn URL" in texts(app)
    assert not [b for b in app.button if b.label in ("Save the contact", "Retry")]
    assert not [e for e in app.expander if e.label == "Fix the contact"]
    assert not [f for f in app.text_input if str(f.key).startswith("fix_")]


def test_a_refused_correction_says_why_and_saves_nothing(store: Runtime, refused: int) -> None:
    app = _detail(refused)
    app.text_input(key=f"fix_{refused}_linkedin_url").set_value("https://example.com/in/frances")
    by_label(app.button, "Save the contact").click().run()

    assert not app.exception, [e.value for e in app.exception]
    shown = [str(error.value).replace("\\", "") for error in app.error]
    assert "LinkedIn URL: the LinkedIn URL must be a linkedin.com address" in shown
    with store.db.read() as session:
        assert session.exec(select(Contact)).one().linkedin_url == REFUSED_LINKEDIN_URL

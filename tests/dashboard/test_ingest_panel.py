"""The Integrations page's ingest section: endpoint, tokens created (shown once) and revoked,
the signing secret, and the last deliveries with their outcome and reason."""

from __future__ import annotations

import pytest
from sqlmodel import select

from clockwork_simulator import SimulatorServer
from dashboard import ingest_panel
from sync_engine.demo.ingest import DemoIngest
from sync_engine.ingest import credentials, delivery_log
from sync_engine.ingest.models import DeliveryOutcome, IngestDelivery, IngestSecret, IngestToken
from sync_engine.models import Activity, ActivityKind, AuditEntry
from sync_engine.runtime import Runtime
from tests.dashboard.conftest import (
    ADMIN,
    VIEWER,
    by_label,
    call_action,
    open_page,
    texts,
)
from tests.factories import (
    enroll,
    make_account,
    make_connected_account,
    make_sequence,
)


def _tables(app: object) -> str:
    """Every table of the page, as text."""
    return "\n".join(frame.value.to_string() for frame in app.dataframe)  # type: ignore[attr-defined]


def test_integrations_shows_the_endpoint_and_creates_a_token_shown_once(store: Runtime) -> None:
    account_id = make_account(store)
    app = open_page("integrations")
    assert f"http://127.0.0.1:8780/v1/accounts/{account_id}" in [c.value for c in app.code]
    by_label(app.text_input, "Token name").input("Instantly webhooks")
    by_label(app.button, "Create token").click().run()
    assert not app.exception
    with store.db.read() as session:
        row = session.exec(select(IngestToken)).one()
        entry = session.exec(select(AuditEntry).where(AuditEntry.entity == "ingest_token")).one()
    shown = [c.value for c in app.code if str(c.value).startswith("cwk_")]
    assert len(shown) == 1 and credentials.token_hash(shown[0]) == row.token_hash
    assert "shown only once" in texts(app)
    assert entry.actor == ADMIN
    app.run()  # the next run no longer shows it
    assert not [c.value for c in app.code if str(c.value).startswith("cwk_")]
    assert "Instantly webhooks" in _tables(app) and "Active" in _tables(app)


def test_integrations_revokes_a_token(store: Runtime) -> None:
    account_id = make_account(store)
    with store.db.write() as session:
        credentials.create_token(
            session=session, account_id=account_id, name="Smartlead", actor="test",
        )  # fmt: skip
    app = open_page("integrations")
    by_label(app.button, "Revoke").click().run()
    with store.db.read() as session:
        row = session.exec(select(IngestToken)).one()
    assert row.revoked_at is not None
    assert "Revoked" in _tables(app)


def test_integrations_sets_a_signing_secret_shown_once(store: Runtime) -> None:
    make_account(store)
    app = open_page("integrations")
    by_label(app.button, "Create a signing secret").click().run()
    shown = [c.value for c in app.code if str(c.value).startswith("whsec_")]
    assert len(shown) == 1
    assert "starting whsec_" in texts(app)


def test_integrations_lists_the_last_deliveries_with_their_reason(store: Runtime) -> None:
    account_id = make_account(store)
    with store.db.write() as session:
        for outcome, status, reason in (
            (DeliveryOutcome.ACCEPTED, 201, None),
            (DeliveryOutcome.REJECTED, 401, "unauthorized: revoked token 3 (Old)"),
        ):
            delivery_log.record_delivery(
                session,
                delivery_log.Delivery(
                    account_id=account_id, route="POST events", outcome=outcome,
                    status_code=status, received_at=store.clock(), reason=reason,
                ),
            )  # fmt: skip
    app = open_page("integrations")
    page = _tables(app)
    assert "Accepted" in page and "Refused" in page
    assert "revoked token 3" in page


@pytest.mark.parametrize(
    ("handler", "arguments"),
    [
        ("create_token", {"name": "Forged"}),
        ("revoke_token", {"token_id": 1}),
        ("set_secret", {}),
    ],
)
def test_a_viewer_calling_a_token_action_directly_is_refused(
    store: Runtime, handler: str, arguments: dict[str, object]
) -> None:
    account_id = make_account(store)
    with store.db.write() as session:
        credentials.create_token(session=session, account_id=account_id, name="Kept", actor="test")
    app = call_action(
        "dashboard.ingest_panel", handler, {"account_id": account_id, **arguments}, user=VIEWER
    )
    assert "Only an admin can" in texts(app)
    with store.db.read() as session:
        rows = session.exec(select(IngestToken)).all()
        secret = session.get(IngestSecret, account_id)
    assert [(r.name, r.revoked_at) for r in rows] == [("Kept", None)] and secret is None
    app = call_action(
        "dashboard.ingest_panel", handler, {"account_id": account_id, **arguments}, user=ADMIN
    )
    assert "Only an admin can" not in texts(app)


def test_in_demo_mode_the_demo_controls_send_events_through_the_ingest_api(
    store: Runtime, simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = make_connected_account(store, base_url=simulator.base_url)
    enrollment_id = enroll(store, make_sequence(store, account_id), "ada@example.com")
    ingest = DemoIngest(store)
    monkeypatch.setattr(ingest_panel, "demo_ingest", lambda: ingest)
    try:
        arguments = {
            "enrollment_id": enrollment_id, "kind": ActivityKind.REPLIED, "subject": "Re",
            "base_url": simulator.base_url,
        }  # fmt: skip
        app = call_action("dashboard.app_pages.demo_controls", "record_email_event", arguments)
        assert not app.exception and not app.error
    finally:
        ingest.close()
    with store.db.read() as session:
        deliveries = session.exec(select(IngestDelivery)).all()
        activities = session.exec(select(Activity)).all()
        token = session.exec(select(IngestToken)).one()
    assert [(d.route, d.outcome, d.status_code) for d in deliveries] == [
        ("POST events", "accepted", 201)
    ]
    assert [(a.enrollment_id, a.kind, a.subject) for a in activities] == [
        (enrollment_id, "replied", "Re")
    ]
    assert token.name == "Demo controls" and deliveries[0].token_id == token.id

"""The Demo controls' actions as a service: contacts and events go through the demo's ingest API
(the real path), a key is revoked and restored by its masked hint, and a restored key is checked
again by the connection service, which never hands the stored secrets out."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import col, select

from clockwork_simulator import FaultConfig, SimulatorServer, SimulatorState
from sync_engine import connections
from sync_engine.demo import DemoControls, DemoIngest, SimulatorAdmin
from sync_engine.domain import ActivityKind, ConnectionState, EnrollmentStatus
from sync_engine.ingest.models import IngestDelivery
from sync_engine.models import Activity, AuditEntry, Enrollment
from sync_engine.runtime import Runtime
from sync_engine.services import accounts, events
from sync_engine.services.errors import (
    ConnectionRejectedError,
    InvalidInputError,
    NotFoundError,
    ServiceError,
)
from tests.factories import SIM_FIRM, make_connected_account, make_runtime, make_sequence

DEMO_PACKAGE = Path(__file__).resolve().parents[2] / "sync_engine" / "demo"


@dataclass
class Demo:
    runtime: Runtime
    account_id: int
    sequence_id: int
    controls: DemoControls


@pytest.fixture
def demo(sqlite_url: str, sim_server: SimulatorServer, sim: SimulatorState) -> Iterator[Demo]:
    runtime = make_runtime(sqlite_url)
    account_id = make_connected_account(runtime, base_url=sim_server.base_url)
    sequence_id = make_sequence(runtime, account_id)
    ingest = DemoIngest(runtime)
    try:
        controls = DemoControls(runtime, sim_server.base_url, ingest=ingest, actor="Dana")
        yield Demo(runtime, account_id, sequence_id, controls)
    finally:
        ingest.close()
        runtime.close()


def _deliveries(runtime: Runtime) -> list[tuple[str, str, int]]:
    with runtime.db.read() as session:
        rows = session.exec(select(IngestDelivery).order_by(col(IngestDelivery.id))).all()
    return [(row.route, row.outcome, row.status_code) for row in rows]


def test_an_added_contact_goes_through_the_ingest_api(demo: Demo, sim: SimulatorState) -> None:
    added = demo.controls.add_contact(
        account_id=demo.account_id, sequence_id=demo.sequence_id,
        fields={"email": "Ada@Lovelace.example", "first_name": "Ada", "last_name": "Lovelace"},
        exists=True,
    )  # fmt: skip

    ref = f"demo-{demo.sequence_id}"
    assert _deliveries(demo.runtime) == [(f"POST sequences/{ref}/contacts/batch", "accepted", 200)]
    with demo.runtime.db.read() as session:
        enrollment = events.get_enrollment(session=session, enrollment_id=added.enrollment_id)
    assert (enrollment.sequence_id, enrollment.status) == (
        demo.sequence_id,
        EnrollmentStatus.QUEUED,
    )
    assert added.email == "ada@lovelace.example"
    assert "Ada Lovelace" in {person["name"] for person in sim.snapshot(SIM_FIRM)["people"]}

    with pytest.raises(InvalidInputError, match="already in this sequence"):
        demo.controls.add_contact(
            account_id=demo.account_id, sequence_id=demo.sequence_id,
            fields={"email": "ada@lovelace.example"},
        )  # fmt: skip


def test_made_up_contacts_go_through_the_ingest_api_as_one_batch(demo: Demo) -> None:
    added = demo.controls.add_made_up_contacts(
        account_id=demo.account_id, sequence_id=demo.sequence_id, count=5
    )

    assert added == 5
    assert [route for route, _, _ in _deliveries(demo.runtime)] == [
        f"POST sequences/demo-{demo.sequence_id}/contacts/batch"
    ]
    with demo.runtime.db.read() as session:
        enrolled = session.exec(
            select(Enrollment.id).where(Enrollment.sequence_id == demo.sequence_id)
        ).all()
    assert len(enrolled) == 5


def test_a_recorded_event_goes_through_the_ingest_api(demo: Demo) -> None:
    added = demo.controls.add_contact(
        account_id=demo.account_id, sequence_id=demo.sequence_id, fields={"email": "a@b.example"}
    )
    demo.controls.record_event(
        enrollment_id=added.enrollment_id, kind=ActivityKind.REPLIED, subject="Re: hello"
    )

    assert [route for route, _, _ in _deliveries(demo.runtime)][-1] == "POST events"
    with demo.runtime.db.read() as session:
        kinds = session.exec(select(Activity.kind, Activity.subject)).all()
    assert kinds == [("replied", "Re: hello")]


def test_a_sequence_of_another_account_is_refused(demo: Demo, sim_server: SimulatorServer) -> None:
    other = make_connected_account(demo.runtime, "Other Corp", base_url=sim_server.base_url)
    with pytest.raises(NotFoundError, match="no sequence"):
        demo.controls.add_contact(
            account_id=other, sequence_id=demo.sequence_id, fields={"email": "a@b.example"}
        )
    assert _deliveries(demo.runtime) == []


def test_without_the_ingest_api_the_controls_write_through_the_services(
    sqlite_url: str, sim_server: SimulatorServer, sim: SimulatorState
) -> None:
    runtime = make_runtime(sqlite_url)
    try:
        account_id = make_connected_account(runtime, base_url=sim_server.base_url)
        sequence_id = make_sequence(runtime, account_id)
        controls = DemoControls(runtime, sim_server.base_url)
        assert controls.add_made_up_contacts(account_id=account_id, sequence_id=sequence_id) == 5
        assert _deliveries(runtime) == []
    finally:
        runtime.close()


def test_a_key_is_revoked_and_restored_by_its_hint_and_the_connection_checked_again(
    demo: Demo, sim_server: SimulatorServer
) -> None:
    demo.controls.set_key_revoked(account_id=demo.account_id, revoked=True)
    with SimulatorAdmin(sim_server.base_url) as admin:
        assert admin.revoked(SIM_FIRM)
    with demo.runtime.db.write() as session:  # what the engine does on the next sync's 401
        connections.mark_needs_attention(session=session, account_id=demo.account_id, error="401")

    demo.controls.set_key_revoked(account_id=demo.account_id, revoked=False)

    with SimulatorAdmin(sim_server.base_url) as admin:
        assert not admin.revoked(SIM_FIRM)
    with demo.runtime.db.read() as session:
        summary = accounts.connection_summary(session=session, account_id=demo.account_id)
        actors = session.exec(
            select(AuditEntry.actor).where(
                AuditEntry.entity == "connection", AuditEntry.new_value == "connected"
            )
        ).all()
    assert summary is not None and summary.state == ConnectionState.CONNECTED
    assert actors[-1] == "Dana"


def test_reverify_checks_the_stored_credentials_again_and_may_move_the_base_url(
    sqlite_url: str, sim_server: SimulatorServer, sim: SimulatorState
) -> None:
    runtime = make_runtime(sqlite_url)
    try:
        account_id = make_connected_account(runtime, base_url=sim_server.base_url)
        moved = sim_server.base_url.replace("127.0.0.1", "localhost")
        summary = accounts.reverify(runtime, account_id=account_id, base_url=moved, actor="t")
        assert (summary.base_url, summary.state) == (moved, ConnectionState.CONNECTED)
        assert not any("secret" in name for name in vars(summary))

        with SimulatorAdmin(sim_server.base_url) as admin:
            admin.revoke_key(admin.api_keys(SIM_FIRM)[0])
        with pytest.raises(ConnectionRejectedError, match="rejected the credentials"):
            accounts.reverify(runtime, account_id=account_id, actor="t")

        with runtime.db.write() as session:
            accounts.disconnect(session=session, account_id=account_id, actor="t")
        with pytest.raises(InvalidInputError, match="no credentials"):
            accounts.reverify(runtime, account_id=account_id, actor="t")
    finally:
        runtime.close()


def test_the_demo_never_reads_a_stored_secret_or_runs_sql() -> None:
    """Plaintext secrets stay in the connection service; the store is reached through services."""
    for path in sorted(DEMO_PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert not names & {"connection_credentials", "box", "decrypt", "execute"}, path.name


def test_faults_are_put_in_force_and_cleared_to_the_configured_latency(
    demo: Demo, sim_server: SimulatorServer
) -> None:
    demo.controls.set_faults(FaultConfig(error_rate=0.5, latency_ms=5))
    assert (sim_server.faults.error_rate, demo.controls.faults().error_rate) == (0.5, 0.5)

    demo.controls.set_faults(None)

    latency = demo.runtime.settings.simulator_latency_ms
    assert demo.controls.faults() == FaultConfig(latency_ms=latency)


def test_a_demo_clockwork_that_does_not_answer_is_a_plain_service_error(demo: Demo) -> None:
    silent = DemoControls(demo.runtime, "http://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(ServiceError, match="the demo Clockwork did not answer"):
        silent.faults()

"""Demo seeding and the embedded simulator: idempotent seeding, reset, persistence, re-pointing."""

from __future__ import annotations

from pathlib import Path

from sync_engine.demo import (
    DEMO_FIRMS,
    DemoSimulator,
    SimulatorAdmin,
    repoint_demo_connections,
    seed_demo,
)
from sync_engine.models import EnrollmentStatus, Reason
from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from sync_engine.services.queries import contact_table, overview, reason_texts
from tests.factories import make_runtime, make_settings


def test_seed_demo_fills_an_empty_store_and_then_does_nothing(
    database_url: str, demo_simulator: DemoSimulator
) -> None:
    runtime = make_runtime(database_url)
    first = seed_demo(runtime, demo_simulator.base_url)
    second = seed_demo(runtime, demo_simulator.base_url)

    assert first.seeded and set(first.accounts) == {
        "Acme Talent",
        "Initech Partners",
        "Globex Search",
        "Umbrella Recruiting",
    }
    assert not second.seeded
    with runtime.db.read() as session:
        health = {row.name: row for row in overview.account_overview(session=session)}
        acme = accounts.connection_summary(
            session=session, account_id=first.accounts["Acme Talent"]
        )
    assert acme is not None and "sim-api-key" not in acme.api_key_hint
    assert health["Initech Partners"].counts[EnrollmentStatus.AWAITING_REPLY] == 3
    assert health["Initech Partners"].counts[EnrollmentStatus.QUEUED] == 3
    assert health["Umbrella Recruiting"].connection == "never_connected"
    assert health["Acme Talent"].counts[EnrollmentStatus.SKIPPED] == 2  # newsletter: Disable Sync
    runtime.close()


def test_seed_demo_puts_existing_people_in_clockwork_and_revokes_globex(
    rt: Runtime, demo_simulator: DemoSimulator
) -> None:
    seed_demo(rt, demo_simulator.base_url)
    people = demo_simulator.state.snapshot("demo")["people"]
    assert {p["name"] for p in people} >= {"Grace Hopper", "Linus Pauling", "Katherine Johnson"}
    with SimulatorAdmin(demo_simulator.base_url) as admin:
        assert admin.revoked("globex") and not admin.revoked("demo")


def test_seed_demo_reset_wipes_the_store_and_seeds_again(
    rt: Runtime, demo_simulator: DemoSimulator
) -> None:
    first = seed_demo(rt, demo_simulator.base_url)
    again = seed_demo(rt, demo_simulator.base_url, reset=True)
    assert again.seeded and again.enrollments == first.enrollments
    with rt.db.read() as session:
        assert len(accounts.list_accounts(session=session)) == 4
    # The three existing people, and the seeded drift's two (issue 16): Victor Lane, and the
    # duplicate Uma Patel was merged into (Wendy Shaw's person was deleted).
    assert len(demo_simulator.state.snapshot("demo")["people"]) == 3 + 2


def test_demo_simulator_keeps_its_state_and_port_across_restarts(tmp_path: Path) -> None:
    settings = make_settings(
        "sqlite://", simulator_state_file=tmp_path / "sim.json", simulator_latency_ms=0
    )
    first = DemoSimulator(settings).start()
    with SimulatorAdmin(first.base_url) as admin:
        firm = DEMO_FIRMS["demo"]
        admin.add_firm(
            firm.name,
            api_key=firm.api_key,
            api_secret=firm.api_secret,
            firm_service_key=firm.firm_service_key,
        )
        person = admin.seed_person("demo", first_name="Ada", last_name="L", emails=["a@b.com"])
    url = first.base_url
    first.stop()

    second = DemoSimulator(settings).start()
    try:
        assert second.base_url == url
        ids = [p["id"] for p in second.state.snapshot("demo")["people"]]
        assert ids == [person["id"]]
    finally:
        second.stop()


def test_connections_to_an_old_simulator_port_are_repointed(
    rt: Runtime, demo_simulator: DemoSimulator, tmp_path: Path
) -> None:
    report = seed_demo(rt, demo_simulator.base_url)
    other = DemoSimulator(
        make_settings(
            "sqlite://", simulator_state_file=tmp_path / "other.json", simulator_latency_ms=0
        )
    )
    other.state = demo_simulator.state
    other.start()
    try:
        moved = repoint_demo_connections(rt, other.base_url)
        with rt.db.read() as session:
            acme = accounts.connection_summary(
                session=session, account_id=report.accounts["Acme Talent"]
            )
        assert moved == 2  # Acme and Initech; Globex's key is revoked, Umbrella never connected
        assert acme is not None and acme.base_url == other.base_url
    finally:
        other.stop()


def test_untracked_reason_codes_have_plain_words() -> None:
    for reason in Reason:
        info = reason_texts.reason_info(reason.value)
        assert info is not None and info.message and "_" not in info.message


def test_the_seeded_demo_tells_its_story_once_the_engine_runs(
    rt: Runtime, demo_simulator: DemoSimulator
) -> None:
    from sync_engine.engine.passes import Engine

    report = seed_demo(rt, demo_simulator.base_url)
    engine = Engine(rt)
    for _ in range(10):
        if not engine.run_pass(trigger="manual").get("claimed"):
            break
    with rt.db.read() as session:
        health = {row.name: row for row in overview.account_overview(session=session)}
        failed = contact_table.list_enrollments(
            session=session,
            where=contact_table.EnrollmentFilter(
                account_id=report.accounts["Acme Talent"], statuses=("failed",)
            ),
        )
    acme = health["Acme Talent"]
    assert acme.exists_in_clockwork == 3  # seeded people, one by a second email, one by case
    assert [row.reason for row in failed] == ["validation_error"]
    assert health["Globex Search"].problems == ["Credentials rejected"]
    assert health["Initech Partners"].counts[EnrollmentStatus.SYNCED] == 3
    assert health["Initech Partners"].counts[EnrollmentStatus.AWAITING_REPLY] == 3

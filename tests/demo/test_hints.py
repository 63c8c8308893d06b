"""Every seeded demo account's connect-form hint gives keys that work for its own firm (issue 13
item 9: Globex's hint named keys the simulator rejects)."""

from __future__ import annotations

from sync_engine.demo import DemoSimulator, SimulatorAdmin, demo_firm_hint, seed_demo
from sync_engine.models import ConnectionState
from sync_engine.runtime import Runtime
from sync_engine.services import accounts


def test_each_seeded_accounts_hint_connects_it_to_its_own_firm(
    rt: Runtime, demo_simulator: DemoSimulator
) -> None:
    report = seed_demo(rt, demo_simulator.base_url)
    for name, account_id in report.accounts.items():
        with rt.db.read() as session:
            before = accounts.connection_summary(session=session, account_id=account_id)
        hint = demo_firm_hint(before.firm if before else None)
        if before is not None:
            assert hint.name == before.firm, name
        summary = accounts.connect(
            rt, account_id=account_id, fields=hint.fields(demo_simulator.base_url),
            actor="test",
        )  # fmt: skip
        assert summary.state == ConnectionState.CONNECTED and summary.firm == hint.name, name


def test_globex_keeps_its_rotated_key_revoked_and_its_new_key_working(
    rt: Runtime, demo_simulator: DemoSimulator
) -> None:
    seed_demo(rt, demo_simulator.base_url)
    hint = demo_firm_hint("globex")
    assert hint.rotated_from is not None
    users = demo_simulator.state.snapshot("globex")["users"]
    assert {u["apiKey"]: u["revoked"] for u in users} == {
        hint.api_key: False,
        hint.rotated_from[0]: True,
    }
    with SimulatorAdmin(demo_simulator.base_url) as admin:
        assert admin.revoked("globex")


def test_a_simulator_state_saved_before_the_rotation_gets_the_new_key_when_seeding(
    rt: Runtime, demo_simulator: DemoSimulator
) -> None:
    old = demo_firm_hint("globex").rotated_from
    assert old is not None
    demo_simulator.state.add_firm("globex", api_key=old[0], api_secret=old[1],
                                  firm_service_key="globex-fsk")  # fmt: skip
    report = seed_demo(rt, demo_simulator.base_url)
    hint = demo_firm_hint("globex")
    summary = accounts.connect(
        rt, account_id=report.accounts["Globex Search"],
        fields=hint.fields(demo_simulator.base_url), actor="test",
    )  # fmt: skip
    assert summary.state == ConnectionState.CONNECTED

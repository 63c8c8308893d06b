"""The Overview page: accounts at a glance and the selected account's counts."""

from __future__ import annotations

from sync_engine.runtime import Runtime
from sync_engine.services import accounts
from tests.dashboard.conftest import open_page
from tests.factories import enroll, make_sequence


def test_overview_lists_accounts_and_counts_enrollments_by_status(store: Runtime) -> None:
    with store.db.write() as session:
        account = accounts.create_account(
            session=session, name="Acme Talent", clock=store.clock, actor="t"
        )
    sequence_id = make_sequence(store, account.id)
    enroll(store, sequence_id, "ada@example.com")

    app = open_page()

    table = app.dataframe[0].value
    assert list(table["Account"]) == ["Acme Talent"]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Skipped"] == "1"  # added while not connected


def test_overview_without_accounts_says_so(store: Runtime) -> None:
    app = open_page()
    assert any("No accounts yet" in info.value for info in app.info)

"""Defence in depth (issue 12 item 10): every change the dashboard offers checks for an admin
right before it is made, not only around the buttons and pages that lead there.

Each page's change action is called directly, inside a Streamlit run, by a signed-in viewer: the
outer gates (the navigation that hides admin pages, the page-level ``require_admin``, buttons not
drawn for viewers) are all bypassed. The action must refuse with the role message, change nothing
in the store and nothing in the Clockwork simulator. The same call by an admin goes through, so a
refusal is the check's doing and not a broken call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from clockwork_simulator import FaultConfig, SimulatorServer
from dashboard import identity
from sync_engine.models import ActivityKind
from sync_engine.runtime import Runtime
from sync_engine.services import accounts, events
from sync_engine.services.errors import ServiceError
from tests.dashboard.conftest import ADMIN, VIEWER, call_action, texts
from tests.factories import (
    SIM_FIRM,
    connection_fields,
    enroll,
    make_connected_account,
    make_sequence,
    set_enrollment,
    set_settings,
)

REFUSED = "Only an admin can"


@dataclass(frozen=True)
class World:
    """What the actions act on."""

    account_id: int
    sequence_id: int
    failed: int
    review: int
    base_url: str


@dataclass(frozen=True)
class Action:
    """One change the dashboard offers: its page module, handler and arguments, and whether an
    admin's call changes the store."""

    page: str
    handler: str
    arguments: Callable[[World], dict[str, Any]]
    changes_store: bool = True


ACTIONS = [
    Action("contact_actions", "retry", lambda w: {"enrollment_ids": [w.failed]}),
    Action("contact_actions", "retry_all_failed", lambda w: {"account_id": w.account_id}),
    Action("contact_actions", "dismiss", lambda w: {"enrollment_ids": [w.failed]}),
    Action(
        "contact_actions", "choose_person", lambda w: {"enrollment_id": w.review, "person_id": None}
    ),
    Action(
        "contact_actions",
        "correct_contact",
        lambda w: {
            "enrollment_id": w.failed,
            "fields": {"linkedin_url": "https://www.linkedin.com/in/ada-lovelace"},
        },
    ),
    Action(
        "sequences",
        "create_sequence",
        lambda w: {
            "account_id": w.account_id,
            "name": "Forged",
            "disable_sync": False,
            "project_id": None,
        },
    ),
    Action(
        "sequences",
        "save_syncing",
        lambda w: {"sequence_id": w.sequence_id, "changes": {"disable_sync": True}},
    ),
    Action("sequences", "preview_resync", lambda w: {"sequence_id": w.sequence_id}, False),
    Action(
        "sequences",
        "queue_resync",
        lambda w: {"sequence_id": w.sequence_id, "target": "the project"},
        False,
    ),
    Action(
        "sync_settings",
        "save_settings",
        lambda w: {"account_id": w.account_id, "changes": {"sync_mode": "off"}},
    ),
    Action("integrations", "create_account", lambda w: {"name": "Forged Corp"}),
    Action("integrations", "verify_credentials", lambda w: {"account_id": w.account_id}, False),
    Action("integrations", "set_paused", lambda w: {"account_id": w.account_id, "paused": True}),
    Action("integrations", "disconnect", lambda w: {"account_id": w.account_id}),
    Action(
        "integrations",
        "save_credentials",
        lambda w: {"account_id": w.account_id, "fields": connection_fields(w.base_url)},
    ),
    Action(
        "activity",
        "send_backfill",
        lambda w: {"account_id": w.account_id, "include_before_connection": True},
    ),
    Action(
        "demo_controls",
        "add_contact",
        lambda w: {
            "account_id": w.account_id,
            "sequence_id": w.sequence_id,
            "fields": {"email": "forged@example.com"},
            "exists": True,
            "base_url": w.base_url,
        },
    ),
    Action(
        "demo_controls",
        "add_made_up_contacts",
        lambda w: {
            "sequence_id": w.sequence_id,
            "account_id": w.account_id,
            "base_url": w.base_url,
        },
    ),
    Action(
        "demo_controls",
        "record_email_event",
        lambda w: {
            "enrollment_id": w.failed,
            "kind": ActivityKind.REPLIED,
            "subject": "Re",
            "base_url": w.base_url,
        },
    ),
    Action(
        "demo_controls",
        "change_faults",
        lambda w: {"base_url": w.base_url, "config": FaultConfig(error_rate=1.0)},
        False,
    ),
    Action(
        "demo_controls", "change_faults", lambda w: {"base_url": w.base_url, "config": None}, False
    ),
    Action(
        "demo_controls",
        "set_key_revoked",
        lambda w: {"account_id": w.account_id, "base_url": w.base_url, "revoked": True},
        False,
    ),
    Action(
        "demo_controls",
        "set_key_revoked",
        lambda w: {"account_id": w.account_id, "base_url": w.base_url, "revoked": False},
    ),
    Action("demo_controls", "run_pass_now", lambda w: {}, False),
    # Not a demo store: the reset itself refuses an admin too (issue 12 item 1), after the check.
    Action("demo_controls", "reset_demo", lambda w: {"base_url": w.base_url}, False),
    Action(
        "alerts",
        "add_destination",
        lambda w: {
            "account_id": w.account_id,
            "fields": {"kind": "slack", "url": "http://127.0.0.1:9/hook"},
        },
    ),
    Action("alerts", "remove_destination", lambda w: {"destination_id": 1}, False),
    Action("alerts", "send_test_alert", lambda w: {"account_id": w.account_id}, False),
    Action(
        "alerts",
        "save_rules",
        lambda w: {"account_id": w.account_id, "changes": {"queue_stalled": (True, 600.0)}},
    ),
    Action(
        "verify",
        "start_verification",
        lambda w: {"account_id": w.account_id, "sequence_id": None, "sample": None},
    ),
    Action("verify", "apply_repair", lambda w: {"account_id": w.account_id}, False),
]


def _name(action: Action) -> str:
    arguments = action.arguments(World(1, 1, 1, 1, "http://sim"))
    extra = {k: v for k, v in arguments.items() if k in ("revoked", "config") and not v}
    return f"{action.page}.{action.handler}" + (f"({extra})" if extra else "")


@pytest.fixture
def world(store: Runtime, simulator: SimulatorServer) -> World:
    """A connected account with a sequence, a failed enrollment, one needing review, and a queued
    one with an email opened while activity tracking was off (something to backfill)."""
    account_id = make_connected_account(store, base_url=simulator.base_url)
    sequence_id = make_sequence(store, account_id, "VP Engineering")
    failed = enroll(store, sequence_id, "ada@lovelace.com")
    review = enroll(store, sequence_id, "ken@wingtip.com")
    queued = enroll(store, sequence_id, "grace@northwind.com")
    set_settings(store, account_id, activity_tracking=False)
    with store.db.write() as session:
        events.record_event(
            session=session, enrollment_id=queued, kind=ActivityKind.OPENED, at=None,
            subject="Hello",
        )  # fmt: skip
    set_enrollment(store, failed, status="failed", reason="validation_error", next_attempt_at=None)
    set_enrollment(
        store, review, status="needs_review", reason="ambiguous_linkedin_match",
        next_attempt_at=None,
        review_candidates=[{"id": "p-a", "name": "Ken T.", "emails": [], "position": None}],
    )  # fmt: skip
    return World(account_id, sequence_id, failed, review, simulator.base_url)


def _store(runtime: Runtime) -> dict[str, list[str]]:
    """Every row of every table in the store, as text."""
    engine = runtime.db.engine
    with engine.connect() as connection:
        return {
            table: sorted(repr(tuple(row)) for row in connection.execute(sa.text(f'SELECT * FROM "{table}"')))
            for table in sa.inspect(engine).get_table_names()
        }  # fmt: skip


def _clockwork(runtime: Runtime, simulator: SimulatorServer, account_id: int) -> str:
    """What the simulator holds, its faults, and whether it accepts the account's key."""
    try:
        accounts.check_connection(runtime, account_id=account_id)
        accepted = "accepted"
    except ServiceError as exc:
        accepted = str(exc)
    snapshot = json.dumps(simulator.state.snapshot(SIM_FIRM), sort_keys=True, default=str)
    return f"{simulator.faults!r}\n{snapshot}\n{accepted}"


def _call(action: Action, world: World, user: str) -> AppTest:
    """Run ``action``'s handler once, in a Streamlit run signed in as ``user``."""
    return call_action(
        f"dashboard.app_pages.{action.page}", action.handler, action.arguments(world), user=user
    )


@pytest.mark.parametrize("action", ACTIONS, ids=_name)
def test_a_viewer_calling_a_change_action_directly_is_refused_and_nothing_changes(
    store: Runtime, simulator: SimulatorServer, world: World, action: Action
) -> None:
    before = (_store(store), _clockwork(store, simulator, world.account_id))
    app = _call(action, world, VIEWER)
    assert not app.exception, [e.value for e in app.exception]
    assert REFUSED in texts(app)
    assert "you are signed in as a viewer" in texts(app)
    after = (_store(store), _clockwork(store, simulator, world.account_id))
    assert after[0] == before[0], "the store changed"
    assert after[1] == before[1], "the Clockwork simulator changed"


@pytest.mark.parametrize("action", ACTIONS, ids=_name)
def test_the_same_call_by_an_admin_goes_through(
    store: Runtime, simulator: SimulatorServer, world: World, action: Action
) -> None:
    before = _store(store)
    app = _call(action, world, ADMIN)
    assert REFUSED not in texts(app)
    if action.changes_store:
        assert _store(store) != before, "the action changed nothing: is the call right?"


def test_every_change_action_of_the_pages_is_in_the_list() -> None:
    """A new change action on a page (a function that checks for an admin) must be added above."""
    import ast
    from pathlib import Path

    pages = Path(identity.__file__).parent / "app_pages"
    found = set()
    for path in pages.glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(call, ast.Call) and ast.unparse(call.func) == "identity.require_admin"
                for statement in node.body
                for call in ast.walk(statement)
                if not isinstance(statement, ast.If)  # the page's own gate sits in render()
            ):
                found.add(f"{path.stem}.{node.name}")
    page_gates = {"integrations.render", "sequences.render", "sync_settings.render",
                  "demo_controls.render"}  # fmt: skip
    assert found - page_gates == {f"{a.page}.{a.handler}" for a in ACTIONS}

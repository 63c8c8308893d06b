"""The hot path's lookups stay index-bound on PostgreSQL right after an import, before any
ANALYZE has given the planner statistics (autovacuum takes up to a minute, events do not wait)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sync_engine.ingest import event_batch, service
from tests.ingest.conftest import Api


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


@pytest.mark.parametrize(
    "statement", ["_ENROLLMENT_BY_REF_AND_EMAIL", "EVENT_CONTEXT_BY_REF_AND_EMAIL", "group of 4"]
)
def test_an_events_enrollment_lookup_reads_the_contact_once_on_a_fresh_import(
    api: Api, statement: str
) -> None:
    if api.runtime.db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL plan (SQLite's statistics are refreshed at start-up)")
    assert api.put_sequence("seq-1").status_code == 201
    contacts = [{"email": f"lead{i}@example.com"} for i in range(200)]
    added = api.call("POST", "/sequences/seq-1/contacts/batch", {"contacts": contacts})
    assert added.json()["accepted"] == 200

    with api.runtime.db.engine.connect() as connection:
        values = {"account_id": api.account_id, "ref": "seq-1", "at": api.clock()}
        if statement == "group of 4":  # a group commit's events, looked up in one statement
            query = event_batch._postgresql().lookup.statement
            values = {
                "ns": [0, 1, 2, 3], "account_ids": [api.account_id] * 4, "refs": ["seq-1"] * 4,
                "emails": [f"lead{150 + n}@example.com" for n in range(4)],
                "ats": [api.clock()] * 4,
            }  # fmt: skip
        else:
            query = getattr(service, statement)
            values["email"] = "lead150@example.com"
        compiled = query.compile(dialect=connection.dialect)
        params = compiled.construct_params(values)
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled.string}", params)
        (document,) = cursor.fetchone()
    plan = (document if isinstance(document, list) else json.loads(document))[0]["Plan"]
    on_contacts = [node for node in _nodes(plan) if node.get("Relation Name") == "contact"]
    assert on_contacts
    once = 4 if statement == "group of 4" else 1  # once per event looked up
    assert all(node["Actual Loops"] <= once for node in on_contacts), plan
    on_enrollments = [node for node in _nodes(plan) if node.get("Relation Name") == "enrollment"]
    assert all(node["Node Type"] != "Seq Scan" for node in on_enrollments), plan


def test_an_events_context_reads_the_audit_history_through_its_index(api: Api) -> None:
    """The connection state and tracking setting at the event's moment come from the audit log:
    three lookups of one field's history in one account, each an index range, never a walk over
    the account's whole audit log (which grows with every change staff make)."""
    assert api.put_sequence("seq-1").status_code == 201
    with api.runtime.db.engine.connect() as connection:
        compiled = service.EVENT_CONTEXT_BY_REF_AND_EMAIL.compile(dialect=connection.dialect)
        params = compiled.construct_params(
            {"account_id": api.account_id, "ref": "seq-1", "email": "lead@example.com",
             "at": api.clock()}
        )  # fmt: skip
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if connection.dialect.name == "sqlite":
            values = [str(params[name]) for name in compiled.positiontup or ()]
            cursor.execute(f"EXPLAIN QUERY PLAN {compiled.string}", values)
            steps = [row[-1] for row in cursor.fetchall() if "audit_entry" in row[-1]]
        else:
            cursor.execute("SET enable_seqscan = off")  # a tiny table: ask which index serves
            cursor.execute(f"EXPLAIN (FORMAT JSON) {compiled.string}", params)
            (document,) = cursor.fetchone()
            plan = (document if isinstance(document, list) else json.loads(document))[0]["Plan"]
            steps = [
                json.dumps(node)
                for node in _nodes(plan)
                if node.get("Relation Name") == "audit_entry"
            ]
    assert len(steps) == 3, steps
    assert all("ix_audit_entry_history" in step for step in steps), steps

"""A bench's customer account on the simulator, made through the services the CLI uses.

:func:`connected_account` creates an account, connects it to a simulator firm (:data:`FIRM` with
:data:`KEYS` unless told otherwise) and applies settings; :func:`add_sequence` adds a sequence;
:func:`enroll` adds contacts to a sequence in one write transaction, each validated as an import
row is. The throughput, scale-out, verify and crash benches start from these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sync_engine.runtime import Runtime
from sync_engine.services import accounts, enrollments

FIRM = "bench"
KEYS = {"api_key": "bench-api-key", "api_secret": "bench-secret", "firm_service_key": "bench-fsk"}
ACTOR = "bench"


def connected_account(
    rt: Runtime,
    *,
    base_url: str,
    name: str = "Bench",
    firm: str = FIRM,
    keys: Mapping[str, str] = KEYS,
    **settings: Any,
) -> int:
    """A new account connected to ``firm`` at ``base_url``, with ``settings`` applied (e.g.
    ``max_rps``, ``default_project_id``); returns its id."""
    with rt.db.write() as session:
        account = accounts.create_account(session=session, name=name, actor=ACTOR)
    assert account.id is not None
    fields = {"firm": firm, "base_url": base_url, **keys}
    accounts.connect(rt, account_id=account.id, fields=fields, actor=ACTOR)
    if settings:
        set_settings(rt, account.id, **settings)
    return account.id


def set_settings(rt: Runtime, account_id: int, **changes: Any) -> None:
    """Change the account's sync settings (e.g. its ``max_rps`` budget)."""
    with rt.db.write() as session:
        accounts.update_settings(
            session=session, account_id=account_id, changes=changes, actor=ACTOR
        )


def add_sequence(rt: Runtime, account_id: int, name: str, *, project_id: str | None = None) -> int:
    """A new sequence of the account (joining ``project_id``, or the account's default)."""
    with rt.db.write() as session:
        sequence = accounts.add_sequence(
            session=session, account_id=account_id, name=name, project_id=project_id,
            actor=ACTOR,
        )  # fmt: skip
    assert sequence.id is not None
    return sequence.id


def enroll(rt: Runtime, sequence_id: int, rows: Iterable[Mapping[str, str]]) -> list[int]:
    """Add each row (an import row: ``email``, ``first_name``...) to the sequence, in one write
    transaction; returns the enrollments' ids."""
    ids = []
    with rt.db.write() as session:
        for row in rows:
            contact = enrollments.parse_contact(dict(row))
            enrollment = enrollments.add_contact(
                session=session, sequence_id=sequence_id, contact=contact
            )
            assert enrollment.id is not None
            ids.append(enrollment.id)
    return ids

"""audit history index

- ``ix_audit_entry_history`` (account_id, entity, field, at): a field's history in one account,
  which recording an event reads three times (the connection state and the tracking setting at
  the event's moment); without it every event scanned the account's whole audit log.

Revision ID: 0011_audit_history_index
Revises: 0010_engine_members
Create Date: 2026-12-01 15:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_audit_history_index"
down_revision: str | None = "0010_engine_members"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_entry_history",
        "audit_entry",
        ["account_id", "entity", "field", "at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_entry_history", table_name="audit_entry")

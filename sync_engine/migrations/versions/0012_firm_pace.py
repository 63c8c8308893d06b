"""firm pace (issue 11)

- ``firm_pace``: the pace an engine learned for a firm whose limit is not told (from its 429s),
  so the engine that takes the firm over starts at it instead of learning it again.

Revision ID: 0012_firm_pace
Revises: 0011_audit_history_index
Create Date: 2026-12-01 16:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sync_engine.models

revision: str = "0012_firm_pace"
down_revision: str | None = "0011_audit_history_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "firm_pace",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("ceiling", sa.Float(), nullable=False),
        sa.Column("updated_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("account_id"),
    )


def downgrade() -> None:
    op.drop_table("firm_pace")

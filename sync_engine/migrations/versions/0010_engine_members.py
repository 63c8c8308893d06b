"""engine members (issue 11)

- ``engine_member``: each engine's heartbeat; the engines alive split the accounts between them.

Revision ID: 0010_engine_members
Revises: 0009_decision_at_add
Create Date: 2026-12-01 10:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sync_engine.models

revision: str = "0010_engine_members"
down_revision: str | None = "0009_decision_at_add"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engine_member",
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("beat_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member"),
    )


def downgrade() -> None:
    op.drop_table("engine_member")

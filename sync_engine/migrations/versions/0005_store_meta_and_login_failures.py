"""store facts and the login lockout

- ``store_meta``: facts about the store itself. ``kind = demo`` marks a store that demo mode
  created (demo mode opens, seeds and resets only such a store, or an empty one it then marks);
  ``key_fingerprint`` names the encryption key its credentials were encrypted with. A store that
  already holds data when this migration runs is not marked: demo mode refuses it.
- ``login_failure``: wrong-password counts per username and per client, so the lockout holds
  across processes and restarts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sync_engine.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_store_meta")),
    )
    op.create_table(
        "login_failure",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_login_failure")),
    )


def downgrade() -> None:
    op.drop_table("login_failure")
    op.drop_table("store_meta")

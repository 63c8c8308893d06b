"""the decision at add, stored when it is made (issue 14)

- enrollment.action_at_add, enrollment.reason_at_add: R1's action at the add trigger (sync,
  await_reply, skip) and its reason when skipped, as the enrollment detail tells them.

Existing rows are filled from their stored snapshot (``*_at_add``): R1 at add depends on nothing
else, so the values are the ones the rule gave then. The codes are written out here, as they
were at this revision, so later renames in the code cannot change what this migration does.

Revision ID: 0009_decision_at_add
Revises: 0006_dashboard_speed
Create Date: 2026-12-01 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_decision_at_add"
down_revision: str | None = "0006_dashboard_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action_at_add", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reason_at_add", sa.String(length=40), nullable=True))
    enrollment = sa.table(
        "enrollment",
        sa.column("sync_mode_at_add", sa.String),
        sa.column("disable_sync_at_add", sa.Boolean),
        sa.column("connected_at_add", sa.Boolean),
        sa.column("action_at_add", sa.String),
        sa.column("reason_at_add", sa.String),
    )
    c = enrollment.c
    # R1 at add, in its order: Disable Sync, then sync off, then not connected.
    skipped_because = (
        (c.disable_sync_at_add.is_(True), "sequence_sync_disabled"),
        (c.sync_mode_at_add == "off", "sync_off"),
        (c.connected_at_add.is_(False), "not_connected"),
    )
    op.execute(
        enrollment.update()
        .where(c.action_at_add.is_(None))
        .values(
            action_at_add=sa.case(
                *((condition, "skip") for condition, _ in skipped_because),
                (c.sync_mode_at_add == "on_reply", "await_reply"),
                else_="sync",
            ),
            reason_at_add=sa.case(*skipped_because, else_=sa.null()),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_column("reason_at_add")
        batch_op.drop_column("action_at_add")

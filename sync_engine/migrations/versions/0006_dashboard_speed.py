"""indexes for the dashboard pages at a million enrollments

- enrollment (account_id, status, next_attempt_at): the Overview's queue and due-now counts are
  read from the index alone (the due count read each queued row: ~130-170 ms at 1M);
- enrollment (contact_id, account_id): a contact search's matching enrollments in the account
  are counted and paged from the index alone (the ``@contoso.com`` count read 42,867 rows for
  their account: ~270 ms on SQLite).

Revision ID: 0006_dashboard_speed
Revises: 0007_ingest_api
Create Date: 2026-12-01 06:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_dashboard_speed"
down_revision: str | None = "0007_ingest_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_enrollment_account_due", ["account_id", "status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_enrollment_contact_account", ["contact_id", "account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_index("ix_enrollment_contact_account")
        batch_op.drop_index("ix_enrollment_account_due")

"""alerts and verify (issue 16)

- ``alert_destination``, ``alert_rule_setting``, ``alert_state``, ``alert_delivery``: where an
  account's alerts go (targets and signing secrets encrypted), its rule choices, the open incident
  per account and rule, and the outbox that is also the alert log.
- ``verify_run`` and ``contact_check``: verification runs and each contact's newest finding.

Revision ID: 0008_alerts_and_verify
Revises: 0005
Create Date: 2026-12-01 05:39:23.238962
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sync_engine.models

revision: str = "0008_alerts_and_verify"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_destination",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("target_token", sa.String(length=4000), nullable=False),
        sa.Column("target_hint", sa.String(length=200), nullable=False),
        sa.Column("signing_secret_token", sa.String(length=500), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_alert_destination_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_destination")),
    )
    with op.batch_alter_table("alert_destination", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_destination_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "alert_rule_setting",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("updated_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_alert_rule_setting_account_id_account")
        ),
        sa.PrimaryKeyConstraint("account_id", "rule", name=op.f("pk_alert_rule_setting")),
    )
    op.create_table(
        "alert_state",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("firing", sa.Boolean(), nullable=False),
        sa.Column("since", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.Column("evaluated_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_alert_state_account_id_account")
        ),
        sa.PrimaryKeyConstraint("account_id", "rule", name=op.f("pk_alert_state")),
    )
    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=True),
        sa.Column("destination_hint", sa.String(length=200), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_alert_delivery_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["alert_destination.id"],
            name=op.f("fk_alert_delivery_destination_id_alert_destination"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_delivery")),
        sa.UniqueConstraint("message_id", name=op.f("uq_alert_delivery_message_id")),
    )
    with op.batch_alter_table("alert_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_alert_delivery_account_id", ["account_id", "id"], unique=False)
        batch_op.create_index("ix_alert_delivery_due", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "verify_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("sequence_id", sa.Integer(), nullable=True),
        sa.Column("sample", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("drifted", sa.Integer(), nullable=False),
        sa.Column("reads", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_verify_run_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["sequence_id"], ["sequence.id"], name=op.f("fk_verify_run_sequence_id_sequence")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verify_run")),
    )
    with op.batch_alter_table("verify_run", schema=None) as batch_op:
        batch_op.create_index("ix_verify_run_account", ["account_id", "id"], unique=False)

    op.create_table(
        "contact_check",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("checked_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("repaired_at", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_contact_check_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_contact_check_contact_id_contact")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["verify_run.id"], name=op.f("fk_contact_check_run_id_verify_run")
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contact_check")),
    )
    with op.batch_alter_table("contact_check", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_check_account_status", ["account_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("contact_check", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_check_account_status")

    op.drop_table("contact_check")
    with op.batch_alter_table("verify_run", schema=None) as batch_op:
        batch_op.drop_index("ix_verify_run_account")

    op.drop_table("verify_run")
    with op.batch_alter_table("alert_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_delivery_due")
        batch_op.drop_index("ix_alert_delivery_account_id")

    op.drop_table("alert_delivery")
    op.drop_table("alert_state")
    op.drop_table("alert_rule_setting")
    with op.batch_alter_table("alert_destination", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_destination_account_id"))

    op.drop_table("alert_destination")

"""ingest API (issue 15)

- ``ingest_token``: API tokens per account, kept as a SHA-256 of the token, with last use and
  revocation.
- ``ingest_secret``: each account's Standard Webhooks signing secret, encrypted.
- ``ingest_sequence_ref``: the outreach platform's id of a sequence, per account.
- ``ingest_delivery``: each request's outcome; an accepted one's key and answer for its retries.

Revision ID: 0007_ingest_api
Revises: 0008_alerts_and_verify
Create Date: 2026-12-01 05:40:18.304335
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sync_engine.models

revision: str = "0007_ingest_api"
down_revision: str | None = "0008_alerts_and_verify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivery_key", sa.String(length=200), nullable=True),
        sa.Column("route", sa.String(length=120), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_ingest_delivery_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_delivery")),
        sa.UniqueConstraint(
            "account_id", "delivery_key", name="uq_ingest_delivery_account_delivery_key"
        ),
    )
    with op.batch_alter_table("ingest_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_ingest_delivery_account_id", ["account_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ingest_delivery_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "ingest_secret",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("secret_token", sa.String(length=500), nullable=False),
        sa.Column("hint", sa.String(length=16), nullable=False),
        sa.Column("created_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_ingest_secret_account_id_account")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_ingest_secret")),
    )
    op.create_table(
        "ingest_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=16), nullable=False),
        sa.Column("created_at", sync_engine.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("last_used_at", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sync_engine.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_ingest_token_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_ingest_token_token_hash")),
    )
    with op.batch_alter_table("ingest_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingest_token_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "ingest_sequence_ref",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("sequence_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_ingest_sequence_ref_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["sequence_id"],
            ["sequence.id"],
            name=op.f("fk_ingest_sequence_ref_sequence_id_sequence"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_sequence_ref")),
        sa.UniqueConstraint("account_id", "ref", name="uq_ingest_sequence_ref_account_ref"),
    )
    with op.batch_alter_table("ingest_sequence_ref", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingest_sequence_ref_sequence_id"), ["sequence_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_sequence_ref", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_sequence_ref_sequence_id"))

    op.drop_table("ingest_sequence_ref")
    with op.batch_alter_table("ingest_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_token_account_id"))

    op.drop_table("ingest_token")
    op.drop_table("ingest_secret")
    with op.batch_alter_table("ingest_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_delivery_received_at"))
        batch_op.drop_index("ix_ingest_delivery_account_id")

    op.drop_table("ingest_delivery")

"""search and paging indexes for a million rows

- enrollment (account_id, id) and activity (account_id, id): the Contacts and Activity pages
  find a page's ids in an index before reading 50 rows;
- enrollment (account_id, status, reason) replaces (account_id, status): the settings preview
  counts by both;
- activity (account_id, state, id): counts and pages by state;
- sync_attempt.account_id (backfilled from the enrollment) with (account_id, outcome,
  finished_at), so the overview chart's failures need no join; the bare finished_at index goes;
- substring search over contact email and name: on SQLite an FTS5 trigram table kept in step
  by triggers (``contact_search``); on PostgreSQL pg_trgm GIN indexes, plus a pattern-ops
  index for email prefixes. Neither is in the models' metadata (env.py leaves them out of
  ``alembic check``); where the database cannot have them (SQLite before 3.34 or without FTS5,
  PostgreSQL without pg_trgm) the migration says so and the views search with a plain LIKE scan.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 20:20:39.841403
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

FULL_NAME = "lower(first_name || ' ' || last_name)"

SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE contact_search USING fts5(email, full_name, tokenize='trigram')",
    f"INSERT INTO contact_search (rowid, email, full_name) SELECT id, email, {FULL_NAME} FROM contact",
    """CREATE TRIGGER contact_search_insert AFTER INSERT ON contact BEGIN
        INSERT INTO contact_search (rowid, email, full_name)
        VALUES (new.id, new.email, lower(new.first_name || ' ' || new.last_name));
    END""",
    """CREATE TRIGGER contact_search_update AFTER UPDATE OF email, first_name, last_name ON contact
    BEGIN
        DELETE FROM contact_search WHERE rowid = old.id;
        INSERT INTO contact_search (rowid, email, full_name)
        VALUES (new.id, new.email, lower(new.first_name || ' ' || new.last_name));
    END""",
    """CREATE TRIGGER contact_search_delete AFTER DELETE ON contact BEGIN
        DELETE FROM contact_search WHERE rowid = old.id;
    END""",
)

POSTGRES_SEARCH = (
    "CREATE INDEX ix_contact_email_trgm ON contact USING gin (email gin_trgm_ops)",
    f"CREATE INDEX ix_contact_name_trgm ON contact USING gin (({FULL_NAME}) gin_trgm_ops)",
)


def _create_search() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        try:  # FTS5's trigram tokenizer needs SQLite 3.34 built with FTS5
            bind.exec_driver_sql(
                "CREATE VIRTUAL TABLE temp.trigram_probe USING fts5(x, tokenize='trigram')"
            )
            bind.exec_driver_sql("DROP TABLE temp.trigram_probe")
        except sa.exc.OperationalError as error:
            log.warning(
                "SQLite has no FTS5 trigram tokenizer (%s); contact search will scan instead of "
                "using an index",
                str(error.orig).strip(),
            )
            return
        for statement in SQLITE_SEARCH:
            op.execute(statement)
        return
    if bind.dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_contact_email_pattern ON contact (email varchar_pattern_ops)")
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as error:
        log.warning(
            "pg_trgm is not available (%s); contact search will scan instead of using an index",
            str(error.orig).strip().splitlines()[0],
        )
        return
    for statement in POSTGRES_SEARCH:
        op.execute(statement)


def _drop_search() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS contact_search_{name}")
        op.execute("DROP TABLE IF EXISTS contact_search")
    elif bind.dialect.name == "postgresql":
        for name in ("email_trgm", "name_trgm", "email_pattern"):
            op.execute(f"DROP INDEX IF EXISTS ix_contact_{name}")


def upgrade() -> None:
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_account_id")
        batch_op.create_index("ix_activity_account_id", ["account_id", "id"], unique=False)
        batch_op.create_index(
            "ix_activity_account_state", ["account_id", "state", "id"], unique=False
        )

    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_index("ix_enrollment_account_status")
        batch_op.create_index(
            "ix_enrollment_account_status", ["account_id", "status", "reason"], unique=False
        )
        batch_op.create_index("ix_enrollment_account_id", ["account_id", "id"], unique=False)

    with op.batch_alter_table("sync_attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE sync_attempt SET account_id = "
        "(SELECT account_id FROM enrollment WHERE enrollment.id = sync_attempt.enrollment_id)"
    )
    with op.batch_alter_table("sync_attempt", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index("ix_sync_attempt_finished_at")
        batch_op.create_index(
            "ix_sync_attempt_account_outcome",
            ["account_id", "outcome", "finished_at"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_sync_attempt_account_id_account"), "account", ["account_id"], ["id"]
        )

    _create_search()


def downgrade() -> None:
    _drop_search()

    with op.batch_alter_table("sync_attempt", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_sync_attempt_account_id_account"), type_="foreignkey"
        )
        batch_op.drop_index("ix_sync_attempt_account_outcome")
        batch_op.create_index("ix_sync_attempt_finished_at", ["finished_at"], unique=False)
        batch_op.drop_column("account_id")

    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_index("ix_enrollment_account_id")
        batch_op.drop_index("ix_enrollment_account_status")
        batch_op.create_index(
            "ix_enrollment_account_status", ["account_id", "status"], unique=False
        )

    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_account_state")
        batch_op.drop_index("ix_activity_account_id")
        batch_op.create_index("ix_activity_account_id", ["account_id"], unique=False)

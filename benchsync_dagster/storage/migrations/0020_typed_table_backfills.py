"""``benchsync.typed_table_backfills``: typed tables waiting to be filled from older snapshots.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08

A write that makes a schema's typed table writes its own documents' rows; the schema's older
snapshots (stored before typed tables, or while the table could not be made) are filled in by
a run of their own (``typed_table_backfill_job``), never inside a sync batch's transaction. So
is a table a refused write left short, once a write of its schema is whole again. One row per
schema due, with since when; the backfill deletes it when done.
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE benchsync.typed_table_backfills (
            schema_id text PRIMARY KEY,
            due_since timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE benchsync.typed_table_backfills")

"""Typed tables' row counts move to ``benchsync.row_counts``, in slots like the synced tables'.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08

``benchsync.typed_tables.row_count`` was added to by every write of new rows to the table, so
concurrent runs writing one schema waited on its catalog row until the first committed. Each
typed table's count is now kept under its qualified name (``benchling.<table>``) in
``benchsync.row_counts``, added to in the writing backend's slot (migration 0019), and the
catalog sums it when it is loaded.
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "INSERT INTO benchsync.row_counts (table_name, slot, row_count)"
        " SELECT 'benchling.' || table_name, 0, row_count FROM benchsync.typed_tables"
        " WHERE row_count <> 0"
    )
    op.execute("ALTER TABLE benchsync.typed_tables DROP COLUMN row_count")


def downgrade() -> None:
    op.execute("ALTER TABLE benchsync.typed_tables ADD COLUMN row_count bigint NOT NULL DEFAULT 0")
    op.execute(
        "UPDATE benchsync.typed_tables AS typed SET row_count = ("
        "   SELECT coalesce(sum(counted.row_count), 0) FROM benchsync.row_counts AS counted"
        "   WHERE counted.table_name = 'benchling.' || typed.table_name)"
    )
    op.execute("DELETE FROM benchsync.row_counts WHERE table_name LIKE 'benchling.%'")

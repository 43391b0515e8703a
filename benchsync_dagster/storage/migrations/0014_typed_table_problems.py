"""``benchsync.typed_table_problems``: typed tables a schema's shape or values keep short.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

One row per entity schema whose typed table lacks something its snapshots hold: a write that
Postgres refused (``kind`` 'error': the rows of that write are missing until a later write of
the schema succeeds and fills the table from the snapshots), or fields past Postgres's limits
that have no column (``kind`` 'unfit'). The ``typed_tables_complete`` check lists them.
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE benchsync.typed_table_problems (
            schema_id text PRIMARY KEY,
            schema_name text NOT NULL,
            kind text NOT NULL CHECK (kind IN ('error', 'unfit')),
            problem text NOT NULL,
            noted_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE benchsync.typed_table_problems")

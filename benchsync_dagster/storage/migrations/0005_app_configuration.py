"""The App configuration the seed's table is built with, stored rather than cached per process.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

One row. Sync steps read the configuration here (not from their run config, so a rerun uses
today's), and a change rebuilds ``synced_benchling_data`` from the stored snapshots.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE benchsync.app_configuration (
            singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            app_id           text NOT NULL,
            schema_id        text NOT NULL,
            field_name       text NOT NULL,
            read_at          timestamptz NOT NULL,
            built_schema_id  text,
            built_field_name text
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE benchsync.app_configuration")

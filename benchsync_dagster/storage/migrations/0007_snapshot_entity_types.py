"""Snapshots of every entity type: each says which type it is.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Rows stored before held custom entities only.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE benchling_entity_snapshots"
        " ADD COLUMN entity_type text NOT NULL DEFAULT 'custom_entity'"
    )
    op.execute("ALTER TABLE benchling_entity_snapshots ALTER COLUMN entity_type DROP DEFAULT")


def downgrade() -> None:
    op.execute("ALTER TABLE benchling_entity_snapshots DROP COLUMN entity_type")

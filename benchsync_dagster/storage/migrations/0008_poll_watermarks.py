"""How far the incremental poll has listed each entity type.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE benchsync.poll_watermarks (
            entity_type text PRIMARY KEY,
            watermark   timestamptz NOT NULL,
            polled_at   timestamptz NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE benchsync.poll_watermarks")

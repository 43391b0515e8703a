"""An index on dead letters by when they ended, for the health check that looks every minute.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Without it ``no_recent_dead_letters`` would read the whole inbox, which is never emptied.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX inbox_dead_letters ON benchsync.inbox (finished_at) WHERE state = 'dead'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX benchsync.inbox_dead_letters")

"""Forget ``created_at`` values that no reader of the inbox can read.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Before the bridge checked it, a ``createdAt`` far outside years 1 to 9999 in UTC was stored as
it came; psycopg then fails to read the row back as a datetime, and one such row stops every
reader of the inbox. The value stays in the row's raw body.
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The bounds the bridge keeps to (events.py): a day inside either end, readable in any zone.
    op.execute(
        "UPDATE benchsync.inbox SET created_at = NULL"
        " WHERE created_at < '0001-01-02 00:00:00+00' OR created_at > '9999-12-30 00:00:00+00'"
    )


def downgrade() -> None:
    """Nothing to undo: the values forgotten were never readable."""

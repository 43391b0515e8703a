"""Whether Benchling answers: the circuit breaker that pauses the sync during an outage.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

One row while Benchling is unavailable (502/503/504 or no connection), none while it answers.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE benchsync.benchling_outage (
            singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            since      timestamptz NOT NULL,
            last_error text NOT NULL,
            updated_at timestamptz NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE benchsync.benchling_outage")

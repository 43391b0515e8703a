"""The deployment's Benchling rate budget: the slots its processes have taken.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Every process calling Benchling (sync runs, reconciliations, sensor ticks) takes a slot here
before each request, so that together they stay within the tenant's limit.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Unlogged: after a crash an empty budget only lets the next 30 s start afresh.
    op.execute(
        """
        CREATE UNLOGGED TABLE benchsync.benchling_budget (
            tenant text NOT NULL,
            slot   float8 NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX benchling_budget_slots ON benchsync.benchling_budget (tenant, slot)")


def downgrade() -> None:
    op.execute("DROP TABLE benchsync.benchling_budget")

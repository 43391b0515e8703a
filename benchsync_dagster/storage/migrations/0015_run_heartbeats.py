"""Run heartbeats: ``benchsync.run_heartbeats``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

One row per run of a job that calls Benchling, touched every few seconds by a thread of the
run's process while it lives (``benchsync_dagster/liveness.py``). The default run launcher
cannot tell that a run's process died with ``dagster dev``; a heartbeat that stopped can, and
the ``fail_orphaned_runs`` sensor fails such a run so that its batch is retried.
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE benchsync.run_heartbeats (
            run_id   text PRIMARY KEY,
            job_name text NOT NULL,
            beat_at  timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX run_heartbeats_beat_at ON benchsync.run_heartbeats (beat_at)")


def downgrade() -> None:
    op.execute("DROP TABLE benchsync.run_heartbeats")

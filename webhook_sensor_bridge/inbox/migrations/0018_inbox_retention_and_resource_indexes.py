"""Indexes for the inbox's retention and for counts by entity, which read the whole inbox.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08

``inbox_finished`` holds only synced and ignored rows, by when they finished: retention
(``queue.delete_finished``) reads the oldest of them, as many as it deletes, however many
newer or pending rows there are. ``inbox_resource`` serves ``reports.count_by_state`` and
``reports.sync_latency_percentiles`` for a few entities (the demo's progress, every second).
It is a hash index: a btree refuses a key past ~2.7 kB, and the bridge records whatever
resource id a signed body carries, so a long one would fail the insert (and every redelivery).
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX inbox_finished ON benchsync.inbox (finished_at)"
        " WHERE state IN ('synced', 'ignored')"
    )
    op.execute("CREATE INDEX inbox_resource ON benchsync.inbox USING hash (resource_id)")


def downgrade() -> None:
    op.execute("DROP INDEX benchsync.inbox_resource")
    op.execute("DROP INDEX benchsync.inbox_finished")

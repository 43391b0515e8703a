"""The webhook inbox: one row per webhook-id, recorded by the bridge before it answers.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

``txid`` is the inserting transaction's id. The sensor reads only rows whose ``txid`` is below the
oldest transaction still in flight (``pg_snapshot_xmin(pg_current_snapshot())``), in
``(txid, seq)`` order: that set never grows behind the reader, so no late commit is skipped
(invariant 4 in docs/architecture.md). A cursor over ``seq`` alone would skip one.
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE benchsync.inbox (
            webhook_id        text PRIMARY KEY,
            seq               bigint GENERATED ALWAYS AS IDENTITY,
            txid              xid8 NOT NULL DEFAULT pg_current_xact_id(),
            channel           text,
            message_id        text,
            message_type      text NOT NULL,
            resource_id       text,
            schema_id         text,
            app_id            text,
            app_definition_id text,
            tenant_id         text,
            base_url          text,
            created_at        timestamptz,
            received_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
            body              text NOT NULL,
            state             text NOT NULL DEFAULT 'pending'
                              CHECK (state IN ('pending', 'synced', 'ignored', 'dead')),
            attempts          integer NOT NULL DEFAULT 0,
            reason            text,
            finished_at       timestamptz
        )
        """
    )
    op.execute("CREATE INDEX inbox_read_order ON benchsync.inbox (txid, seq)")
    op.execute("CREATE INDEX inbox_pending ON benchsync.inbox (seq) WHERE state = 'pending'")


def downgrade() -> None:
    op.execute("DROP TABLE benchsync.inbox")

"""Reconciliations and polls by entity type: each reconciliation records one row per type it
listed (every mirrored schema), and a poll notes when it last listed a type to its end.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Rows recorded before listed one custom-entity schema; they keep their schema id and no type, so
the first reconciliation by watermark after this upgrade lists each type from its beginning.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE benchsync.reconciliations ADD COLUMN entity_type text")
    op.execute("ALTER TABLE benchsync.reconciliations ALTER COLUMN schema_id DROP NOT NULL")
    # A type with no entity yet has no watermark, only the moment its listing ended.
    op.execute("ALTER TABLE benchsync.poll_watermarks ALTER COLUMN watermark DROP NOT NULL")
    op.execute("ALTER TABLE benchsync.poll_watermarks ALTER COLUMN polled_at DROP NOT NULL")
    # `benchsync status` asks each schema's newest snapshot for the schema's name.
    op.execute(
        "CREATE INDEX benchling_entity_snapshots_schema_modified"
        " ON benchling_entity_snapshots (schema_id, modified_at)"
    )
    op.execute("DROP INDEX benchling_entity_snapshots_schema")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX benchling_entity_snapshots_schema ON benchling_entity_snapshots (schema_id)"
    )
    op.execute("DROP INDEX benchling_entity_snapshots_schema_modified")
    op.execute("DELETE FROM benchsync.poll_watermarks WHERE watermark IS NULL OR polled_at IS NULL")
    op.execute("ALTER TABLE benchsync.poll_watermarks ALTER COLUMN polled_at SET NOT NULL")
    op.execute("ALTER TABLE benchsync.poll_watermarks ALTER COLUMN watermark SET NOT NULL")
    op.execute("DELETE FROM benchsync.reconciliations WHERE schema_id IS NULL")
    op.execute("ALTER TABLE benchsync.reconciliations ALTER COLUMN schema_id SET NOT NULL")
    op.execute("ALTER TABLE benchsync.reconciliations DROP COLUMN entity_type")

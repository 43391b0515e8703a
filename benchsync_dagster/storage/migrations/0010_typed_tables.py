"""Typed tables: the ``benchling`` Postgres schema that holds one table per entity schema, and
the catalog that names them (``benchsync.typed_tables``, ``benchsync.typed_columns``) and logs
every statement that created or changed one (``benchsync.typed_table_changes``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

The typed tables themselves are made by the sync as schemas appear (their DDL is catalogued,
not versioned here): an entity schema's table is created, and filled from the stored
snapshots, the first time one of its entities is written.
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS benchling")
    op.execute(
        """
        CREATE TABLE benchsync.typed_tables (
            schema_id text PRIMARY KEY,
            entity_type text NOT NULL,
            schema_name text NOT NULL,
            table_name text NOT NULL UNIQUE,
            view_name text NOT NULL UNIQUE,
            row_count bigint NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now(),
            described_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE benchsync.typed_columns (
            schema_id text NOT NULL REFERENCES benchsync.typed_tables ON DELETE CASCADE,
            field_id text NOT NULL,
            field_name text,
            field_type text NOT NULL,
            is_multi boolean NOT NULL,
            column_name text NOT NULL,
            option_id_column text,
            sql_type text NOT NULL,
            position integer NOT NULL,
            type_now text,
            added_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (schema_id, field_id),
            UNIQUE (schema_id, column_name)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE benchsync.typed_table_changes (
            id bigserial PRIMARY KEY,
            changed_at timestamptz NOT NULL DEFAULT now(),
            schema_id text NOT NULL,
            reason text NOT NULL,
            statement text NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE benchsync.typed_table_changes")
    op.execute("DROP TABLE benchsync.typed_columns")
    op.execute("DROP TABLE benchsync.typed_tables")
    op.execute("DROP SCHEMA benchling CASCADE")

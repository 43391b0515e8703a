"""benchsync's own marker on what it archived because a full listing did not return it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

``vanished`` on ``benchling_entity_snapshots`` and ``synced_benchling_data``, ``vanished$`` on
every typed table: such a row gives way to Benchling's document of the same ``modifiedAt`` when
the entity is returned again, where a real Benchling archive (its ``archiveRecord``) stays. Rows
archived before this migration with benchsync's reason, "Not returned by Benchling" (Benchling's
own reasons are a fixed list without it), are marked. ``benchsync.reconciliations`` counts per
type the entities that reappeared and those a guard kept from being archived (``withheld``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

VANISHED_REASON = "Not returned by Benchling"
MARKER = "benchsyncVanished"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE benchling_entity_snapshots ADD COLUMN vanished boolean NOT NULL DEFAULT false"
    )
    op.execute(
        sa.text(
            "UPDATE benchling_entity_snapshots SET vanished = true, document = jsonb_set("
            " document, ARRAY['archiveRecord', :marker]::text[], 'true'::jsonb)"
            " WHERE archived AND document -> 'archiveRecord' ->> 'reason' = :reason"
        ).bindparams(marker=MARKER, reason=VANISHED_REASON)
    )
    op.execute(
        "ALTER TABLE synced_benchling_data ADD COLUMN vanished boolean NOT NULL DEFAULT false"
    )
    op.execute(
        sa.text(
            "UPDATE synced_benchling_data SET vanished = true"
            " WHERE archived AND archive_reason = :reason"
        ).bindparams(reason=VANISHED_REASON)
    )
    op.execute(
        "ALTER TABLE benchsync.reconciliations"
        " ADD COLUMN reappeared integer NOT NULL DEFAULT 0,"
        " ADD COLUMN withheld integer NOT NULL DEFAULT 0"
    )
    bind = op.get_bind()
    # Table names from the catalog, quoted by the dialect: the S608 noqa below is for these.
    quote = bind.dialect.identifier_preparer.quote
    tables = bind.execute(
        sa.text("SELECT schema_id, table_name, view_name FROM benchsync.typed_tables")
    )
    for schema_id, table_name, view_name in tables.fetchall():
        table, view = f"benchling.{quote(table_name)}", f"benchling.{quote(view_name)}"
        bind.execute(
            sa.text(f'ALTER TABLE {table} ADD COLUMN "vanished$" boolean NOT NULL DEFAULT false')
        )
        # A view's SELECT * was expanded when it was made: made again, it shows the new column.
        replace = f'CREATE OR REPLACE VIEW {view} AS SELECT * FROM {table} WHERE NOT "archived$"'  # noqa: S608
        bind.execute(sa.text(replace))
        bind.execute(
            sa.text(
                f'UPDATE {table} SET "vanished$" = true'  # noqa: S608
                ' WHERE "archived$" AND "archive_reason$" = :reason'
            ),
            {"reason": VANISHED_REASON},
        )
        bind.execute(
            sa.text(
                "INSERT INTO benchsync.typed_table_changes (schema_id, reason, statement)"
                " VALUES (:schema_id, 'migration 0016: the vanished marker', :statement)"
            ),
            {"schema_id": schema_id, "statement": f'ALTER TABLE {table} ADD COLUMN "vanished$"'},
        )


def downgrade() -> None:
    bind = op.get_bind()
    quote = bind.dialect.identifier_preparer.quote
    names = bind.execute(sa.text("SELECT table_name, view_name FROM benchsync.typed_tables"))
    for table_name, view_name in names.fetchall():
        # The view may select the column (a table made since): made again without it.
        table, view = f"benchling.{quote(table_name)}", f"benchling.{quote(view_name)}"
        bind.execute(sa.text(f"DROP VIEW {view}"))
        bind.execute(sa.text(f'ALTER TABLE {table} DROP COLUMN "vanished$"'))
        recreate = f'CREATE VIEW {view} AS SELECT * FROM {table} WHERE NOT "archived$"'  # noqa: S608
        bind.execute(sa.text(recreate))
    op.execute("ALTER TABLE benchsync.reconciliations DROP COLUMN reappeared, DROP COLUMN withheld")
    op.execute("ALTER TABLE synced_benchling_data DROP COLUMN vanished")
    op.execute("ALTER TABLE benchling_entity_snapshots DROP COLUMN vanished")

"""Every display name a field has had, so that a renamed field keeps its values.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07

Benchling keys an entity's fields by display name, and a schema edit changes no entity's
``modifiedAt``: a snapshot stored before a rename keeps the old name. ``benchsync.field_names``
remembers each name a field (by definition id) has had, with when it was last its name; it
does not go with a typed table that is dropped to be made again. The App configuration keeps
the configured field's id beside its name (``field_id``, ``built_field_id``), filled here from
the catalog where it knows the field by that name (else the next read of the configuration
stores the id, and the rows are rebuilt once).
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE benchsync.field_names (
            schema_id text NOT NULL,
            field_id text NOT NULL,
            name text NOT NULL,
            seen_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (schema_id, field_id, name)
        )
        """
    )
    op.execute(
        "INSERT INTO benchsync.field_names (schema_id, field_id, name)"
        " SELECT schema_id, field_id, field_name FROM benchsync.typed_columns"
        " WHERE field_name IS NOT NULL"
    )
    op.execute(
        "ALTER TABLE benchsync.app_configuration ADD COLUMN field_id text,"
        " ADD COLUMN built_field_id text"
    )
    op.execute(
        """
        UPDATE benchsync.app_configuration AS stored SET
            field_id = (SELECT min(field_id) FROM benchsync.typed_columns AS c
                        WHERE c.schema_id = stored.schema_id AND c.field_name = stored.field_name
                        HAVING count(*) = 1),
            built_field_id = (SELECT min(field_id) FROM benchsync.typed_columns AS c
                              WHERE c.schema_id = stored.built_schema_id
                                AND c.field_name = stored.built_field_name
                              HAVING count(*) = 1)
        """
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE benchsync.app_configuration DROP COLUMN field_id, DROP COLUMN built_field_id"
    )
    op.execute("DROP TABLE benchsync.field_names")

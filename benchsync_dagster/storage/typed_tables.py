"""The typed tables (``benchling."<schema>$raw"``, with the view ``benchling."<schema>"`` hiding
archived rows) and their catalog (``benchsync.typed_tables``, ``benchsync.typed_columns``, and
``benchsync.field_names``: every display name each field has had, kept when a table is dropped
to be made again). Every
statement that creates or changes a typed table is run here and logged in
``benchsync.typed_table_changes``; identifiers come from the catalog, validated and quoted."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from benchsync_dagster.storage.app_configuration import SyncTarget
from benchsync_dagster.typed.catalog import SYSTEM_COLUMNS, Changes, TypedTable, names_to_read
from benchsync_dagster.typed.columns import WIDE_INTEGER, FieldColumn
from benchsync_dagster.typed.naming import validated

SCHEMA = "benchling"
_CATALOG_LOCK = 0x7E7ED  # pg_advisory_xact_lock key: one catalog change at a time


def table_identifier(table: TypedTable) -> sql.Identifier:
    return sql.Identifier(SCHEMA, validated(table.table_name))


def qualified_name(name: str) -> str:
    """The table or view name as a user types it (``benchling.plasmid$raw``)."""
    return f"{SCHEMA}.{name}"


def lock_catalog(connection: psycopg.Connection[Any]) -> None:
    """Serialise catalog changes until the transaction ends (they are rare: a schema changed)."""
    connection.execute("SELECT pg_advisory_xact_lock(%s)", [_CATALOG_LOCK])


def load(
    connection: psycopg.Connection[Any], schema_ids: Sequence[str] | None = None
) -> dict[str, TypedTable]:
    """The catalog's tables (of these schemas, or all), by schema id."""
    params = {"all": schema_ids is None, "ids": list(schema_ids or []), "schema": SCHEMA}
    with connection.cursor(row_factory=dict_row) as cursor:
        tables = cursor.execute(
            "SELECT schema_id, entity_type, schema_name, table_name, view_name,"
            " (SELECT coalesce(sum(counted.row_count), 0)::bigint"
            "  FROM benchsync.row_counts AS counted"
            "  WHERE counted.table_name = %(schema)s || '.' || typed.table_name) AS row_count"
            " FROM benchsync.typed_tables AS typed WHERE %(all)s OR schema_id = ANY(%(ids)s)",
            params,
        ).fetchall()
        columns = cursor.execute(
            "SELECT schema_id, field_id, field_name, field_type, is_multi, column_name,"
            " option_id_column, sql_type, type_now FROM benchsync.typed_columns"
            " WHERE %(all)s OR schema_id = ANY(%(ids)s) ORDER BY schema_id, position",
            params,
        ).fetchall()
        names = cursor.execute(
            "SELECT schema_id, field_id, name FROM benchsync.field_names"
            " WHERE %(all)s OR schema_id = ANY(%(ids)s) ORDER BY seen_at DESC, name",
            params,
        ).fetchall()
    names_of: dict[tuple[str, str], list[str]] = {}
    for name in names:
        names_of.setdefault((name["schema_id"], name["field_id"]), []).append(name["name"])
    by_schema: dict[str, list[FieldColumn]] = {}
    for column in columns:
        had = names_of.get((column["schema_id"], column["field_id"]), [])
        former = tuple(name for name in had if name != column["field_name"])
        by_schema.setdefault(column.pop("schema_id"), []).append(
            FieldColumn(**column, former_names=former)
        )
    return {
        table["schema_id"]: TypedTable(
            **table, columns=tuple(by_schema.get(table["schema_id"], []))
        )
        for table in tables
    }


def synced_field_names(connection: psycopg.Connection[Any], target: SyncTarget) -> tuple[str, ...]:
    """The names to read the App's configured field by in its schema's documents, newest first:
    the catalog's for the field (by id; by name for a configuration stored without one) and the
    configuration's; the configuration's alone when the schema has no typed table."""
    table = load(connection, [target.schema_id]).get(target.schema_id)
    column = next(
        (
            c
            for c in (table.columns if table else ())
            if c.field_id == target.field_id
            or (target.field_id is None and c.field_name == target.field_name)
        ),
        None,
    )
    if table is None or column is None:
        return (target.field_name,)
    return names_to_read(table, column, also=[target.field_name])


def names_taken(connection: psycopg.Connection[Any]) -> set[str]:
    """Every typed table's view name (a new one must differ)."""
    return {name for (name,) in connection.execute("SELECT view_name FROM benchsync.typed_tables")}


def _column_definition(name: str, sql_type: str) -> sql.Composed:
    return sql.SQL("{} {}").format(sql.Identifier(validated(name)), sql.SQL(sql_type))


def _field_definitions(column: FieldColumn) -> list[sql.Composed]:
    kind = column.sql_type
    definitions = [_column_definition(column.column_name, kind)]
    if column.option_id_column is not None:
        definitions.append(_column_definition(column.option_id_column, kind))
    return definitions


def _execute_logged(
    connection: psycopg.Connection[Any], schema_id: str, reason: str, statement: sql.Composed
) -> None:
    connection.execute(statement)
    connection.execute(
        "INSERT INTO benchsync.typed_table_changes (schema_id, reason, statement)"
        " VALUES (%s, %s, %s)",
        [schema_id, reason, statement.as_string(connection)],
    )


def _replace_view(connection: psycopg.Connection[Any], table: TypedTable, reason: str) -> None:
    # CREATE OR REPLACE: the view takes the table's new columns at its end.
    statement = sql.SQL(
        'CREATE OR REPLACE VIEW {} AS SELECT * FROM {} WHERE NOT "archived$"'
    ).format(sql.Identifier(SCHEMA, validated(table.view_name)), table_identifier(table))
    _execute_logged(connection, table.schema_id, reason, statement)


def apply(connection: psycopg.Connection[Any], table: TypedTable, changes: Changes) -> TypedTable:
    """Make the database and the catalog hold ``table`` as ``changes`` say it changed (under
    ``lock_catalog``); returns the table as the catalog now holds it (with the names its fields
    had before, which a table made again after a drop would not know)."""
    if changes.created:
        system = [_column_definition(name, kind) for name, kind in SYSTEM_COLUMNS.items()]
        fields = [d for column in table.columns for d in _field_definitions(column)]
        statement = sql.SQL("CREATE TABLE {} ({})").format(
            table_identifier(table), sql.SQL(", ").join([*system, *fields])
        )
        _execute_logged(
            connection, table.schema_id, f"schema {table.schema_name!r} seen", statement
        )
        # A table of this name dropped to be made again left its count behind.
        connection.execute(
            "DELETE FROM benchsync.row_counts WHERE table_name = %s",
            [qualified_name(table.table_name)],
        )
        connection.execute(
            "INSERT INTO benchsync.typed_tables"
            " (schema_id, entity_type, schema_name, table_name, view_name)"
            " VALUES (%s, %s, %s, %s, %s)",
            [
                table.schema_id,
                table.entity_type,
                table.schema_name,
                table.table_name,
                table.view_name,
            ],
        )
    else:
        connection.execute(
            "UPDATE benchsync.typed_tables SET schema_name = %s, described_at = now()"
            " WHERE schema_id = %s",
            [table.schema_name, table.schema_id],
        )
        for column in changes.added:
            statement = sql.SQL("ALTER TABLE {} {}").format(
                table_identifier(table),
                sql.SQL(", ").join(
                    sql.SQL("ADD COLUMN {}").format(d) for d in _field_definitions(column)
                ),
            )
            _execute_logged(
                connection, table.schema_id, f"field {column.field_name!r} added", statement
            )
    for position, column in enumerate(table.columns):
        connection.execute(
            "INSERT INTO benchsync.typed_columns (schema_id, field_id, field_name, field_type,"
            " is_multi, column_name, option_id_column, sql_type, position, type_now)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (schema_id, field_id) DO UPDATE SET"
            " field_name = EXCLUDED.field_name, type_now = EXCLUDED.type_now",
            [
                table.schema_id,
                column.field_id,
                column.field_name,
                column.field_type,
                column.is_multi,
                column.column_name,
                column.option_id_column,
                column.sql_type,
                position,
                column.type_now,
            ],
        )
    # Each field's name now, noted as seen now (the order names are read in, newest first).
    named = sorted(
        (column for column in table.columns if column.field_name is not None),
        key=lambda column: (column.field_id, column.field_name),
    )
    connection.execute(
        "INSERT INTO benchsync.field_names (schema_id, field_id, name)"
        " SELECT %s, field_id, name FROM unnest(%s::text[], %s::text[]) AS now (field_id, name)"
        " ON CONFLICT (schema_id, field_id, name) DO UPDATE SET seen_at = now()",
        [table.schema_id, [c.field_id for c in named], [c.field_name for c in named]],
    )
    if changes.created or changes.added:
        _replace_view(connection, table, "the table's columns changed")
    return load(connection, [table.schema_id])[table.schema_id]


def widen(
    connection: psycopg.Connection[Any], table: TypedTable, columns: Sequence[FieldColumn]
) -> TypedTable:
    """Make these integer columns ``numeric`` (a value passed bigint); returns the table as it
    now is (under ``lock_catalog``). The view is made again: Postgres retypes no column a view
    uses."""
    widened = {
        column.column_name: column.sql_type.replace("bigint", WIDE_INTEGER) for column in columns
    }
    reason = "an integer passed bigint"
    view = sql.Identifier(SCHEMA, validated(table.view_name))
    _execute_logged(connection, table.schema_id, reason, sql.SQL("DROP VIEW {}").format(view))
    statement = sql.SQL("ALTER TABLE {} {}").format(
        table_identifier(table),
        sql.SQL(", ").join(
            sql.SQL("ALTER COLUMN {0} TYPE {1} USING {0}::{1}").format(
                sql.Identifier(validated(name)), sql.SQL(kind)
            )
            for name, kind in widened.items()
        ),
    )
    _execute_logged(connection, table.schema_id, reason, statement)
    connection.execute(
        "UPDATE benchsync.typed_columns SET sql_type = new.sql_type"
        " FROM unnest(%s::text[], %s::text[]) AS new (column_name, sql_type)"
        " WHERE schema_id = %s AND typed_columns.column_name = new.column_name",
        [list(widened), list(widened.values()), table.schema_id],
    )
    _replace_view(connection, table, reason)
    return dataclasses.replace(
        table,
        columns=tuple(
            dataclasses.replace(c, sql_type=widened.get(c.column_name, c.sql_type))
            for c in table.columns
        ),
    )


def upsert(
    connection: psycopg.Connection[Any], table: TypedTable, rows: list[dict[str, Any]]
) -> tuple[int, int]:
    """Write these rows (column name → JSON value), never over a newer ``modified_at$``, in
    id order (concurrent writers of overlapping rows then lock them in one order and never
    deadlock); returns the rows written and the new ones among them (counted in
    ``benchsync.row_counts``, in this backend's slot, so that no run counts a whole table and
    concurrent writers of one table do not wait for each other's commit)."""
    if not rows:
        return 0, 0
    names = [name for name in SYSTEM_COLUMNS if name != "synced_at$"]
    for column in table.columns:
        names.append(column.column_name)
        if column.option_id_column is not None:
            names.append(column.option_id_column)
    columns = sql.SQL(", ").join(sql.Identifier(validated(name)) for name in names)
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name)) for name in names[1:]
    )
    statement = sql.SQL(
        "INSERT INTO {table} AS kept ({columns})"
        " SELECT {columns} FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
        ' ON CONFLICT (id) DO UPDATE SET {updates}, "synced_at$" = now()'
        ' WHERE kept."modified_at$" < EXCLUDED."modified_at$"'
        # A row benchsync archived as vanished gives way to Benchling's document of the same
        # modifiedAt (snapshots.upsert says why).
        ' OR (kept."vanished$" AND NOT EXCLUDED."vanished$"'
        ' AND kept."modified_at$" = EXCLUDED."modified_at$")'
        " RETURNING (xmax = 0) AS inserted"
    ).format(table=table_identifier(table), columns=columns, updates=updates)
    in_key_order = sorted(rows, key=lambda row: str(row["id"]))
    inserted = [
        new for (new,) in connection.execute(statement, [json.dumps(in_key_order)]).fetchall()
    ]
    if any(inserted):
        connection.execute(
            "SELECT benchsync.add_to_row_count(%s, %s)",
            [qualified_name(table.table_name), sum(inserted)],
        )
    return len(inserted), sum(inserted)


def mark_vanished(
    connection: psycopg.Connection[Any],
    tables: Iterable[TypedTable],
    entity_ids: Sequence[str],
    reason: str,
) -> int:
    """Mark these entities archived and vanished (a full listing did not return them) wherever
    a typed table holds them; returns the rows changed."""
    changed = 0
    for table in tables:
        statement = sql.SQL(
            'UPDATE {} SET "archived$" = true, "vanished$" = true, "archive_reason$" = %s,'
            ' "synced_at$" = now() WHERE id = ANY(%s) AND NOT "archived$"'
        ).format(table_identifier(table))
        changed += connection.execute(statement, [reason, list(entity_ids)]).rowcount
    return changed

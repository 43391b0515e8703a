"""Writing documents into their schemas' typed tables, in the caller's transaction, beside
their snapshots: the catalog follows the schema first (a new table, filled from the stored
snapshots; an added column; a renamed or retyped field noted), then the rows are upserted."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from benchsync_dagster import mapping
from benchsync_dagster.storage import snapshots, typed_tables
from benchsync_dagster.typed.catalog import (
    Changes,
    SchemaDefinition,
    TypedTable,
    evolve,
    needs_description,
    typed_rows,
)

# Reads a schema's definition from Benchling (None: Benchling has no such schema).
Describe = Callable[[str], SchemaDefinition | None]
BACKFILL_CHUNK = 1000


@dataclass
class TableWrite:
    """What one write did to one typed table."""

    table: TypedTable
    rows_written: int = 0
    rows_inserted: int = 0
    changes: Changes = field(default_factory=Changes)
    value_problems: dict[str, str] = field(default_factory=dict)  # field → an example

    def add(self, upserted: tuple[int, int], problems: Mapping[str, str]) -> None:
        self.rows_written += upserted[0]
        self.rows_inserted += upserted[1]
        self.value_problems.update(problems)


def merged(writes: Sequence[TableWrite]) -> list[TableWrite]:
    """Writes of several transactions (a listing's pages) as one per table."""
    by_schema: dict[str, TableWrite] = {}
    for write in writes:
        kept = by_schema.setdefault(write.table.schema_id, TableWrite(write.table))
        kept.table = write.table
        kept.rows_written += write.rows_written
        kept.rows_inserted += write.rows_inserted
        kept.value_problems.update(write.value_problems)
        for name in ("added", "renamed", "removed", "retyped"):
            getattr(kept.changes, name).extend(getattr(write.changes, name))
        kept.changes.created |= write.changes.created
        kept.changes.schema_renamed |= write.changes.schema_renamed
    return list(by_schema.values())


def _backfill(connection: psycopg.Connection[Any], table: TypedTable, write: TableWrite) -> None:
    """A new table filled from the schema's stored snapshots (those written before it existed)."""
    for chunk in snapshots.stored_of_schema(connection, table.schema_id, BACKFILL_CHUNK):
        documents = [snapshot.document for snapshot in chunk]
        rows, problems = typed_rows(
            table,
            documents,
            {s.document["id"]: s.source_event for s in chunk if s.source_event},
            {s.document["id"]: s.entity_type for s in chunk},
        )
        write.add(typed_tables.upsert(connection, table, rows), problems)


def _follow_schemas(
    connection: psycopg.Connection[Any],
    definitions: Mapping[str, SchemaDefinition],
    writes: dict[str, TableWrite],
) -> dict[str, TypedTable]:
    """Bring the catalog and the tables in line with these definitions, under the catalog
    lock (read again under it: another run may have done it meanwhile)."""
    typed_tables.lock_catalog(connection)
    tables = typed_tables.load(connection, list(definitions))
    taken = typed_tables.names_taken(connection)
    for schema_id, definition in definitions.items():
        evolved, changes = evolve(tables.get(schema_id), definition, taken)
        taken.add(evolved.view_name)
        write = writes.setdefault(schema_id, TableWrite(evolved))
        write.table, write.changes = evolved, changes
        if changes:
            evolved = typed_tables.apply(connection, evolved, changes)
        if changes.created:
            _backfill(connection, evolved, write)
        tables[schema_id] = evolved
    return tables


def write_typed(
    connection: psycopg.Connection[Any],
    documents: Sequence[mapping.EntityDocument],
    sources: Mapping[str, str],
    entity_types: Mapping[str, str],
    describe: Describe,
) -> list[TableWrite]:
    """Write ``documents`` (already in ``benchling_entity_snapshots``) into their schemas'
    typed tables; returns what was done per table. ``describe`` is called only for a schema
    the catalog does not yet match (a network call, rare: when a schema is new or changed)."""
    by_schema: dict[str, list[mapping.EntityDocument]] = {}
    for document in documents:
        schema_id = mapping.schema_id(document)
        if schema_id:
            by_schema.setdefault(schema_id, []).append(document)
    if not by_schema:
        return []
    tables = typed_tables.load(connection, list(by_schema))
    definitions = {
        schema_id: definition
        for schema_id, of_schema in by_schema.items()
        if needs_description(tables.get(schema_id), of_schema)
        and (definition := describe(schema_id)) is not None
    }
    writes: dict[str, TableWrite] = {}
    if definitions:
        tables.update(_follow_schemas(connection, definitions, writes))
    for schema_id, of_schema in by_schema.items():
        table = tables.get(schema_id)
        if table is None:
            continue  # a schema Benchling no longer has: its snapshots alone are kept
        write = writes.setdefault(schema_id, TableWrite(table))
        rows, problems = typed_rows(table, of_schema, sources, entity_types)
        write.add(typed_tables.upsert(connection, table, rows), problems)
    return list(writes.values())

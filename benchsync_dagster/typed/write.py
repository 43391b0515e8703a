"""Writing documents into their schemas' typed tables, in the caller's transaction, beside
their snapshots: the catalog follows the schema first (a new table; an added column; a renamed
or retyped field noted), then the rows are upserted.

What the catalog does not match is described by Benchling before that transaction opens
(``unmatched_schemas``; a call may wait for a rate slot, never with rows locked), and the
write is handed the descriptions. Filling a table from the schema's older snapshots (O(rows))
is left to a run of its own: the write notes it due (``storage/typed_backfills.py``) and
``backfill`` does it.

Each schema is written under savepoints of its own: what Postgres refuses of one schema (a
value, a row too big, a limit) is rolled back alone and noted in
``benchsync.typed_table_problems``, and the caller's transaction (the snapshots, the other
schemas) goes on. A later whole write of the schema fills its table from the snapshots again."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from benchsync_dagster import mapping
from benchsync_dagster.storage import (
    snapshots,
    typed_backfills,
    typed_table_problems,
    typed_tables,
)
from benchsync_dagster.typed.catalog import (
    Changes,
    SchemaDefinition,
    TypedTable,
    columns_past_bigint,
    evolve,
    needs_description,
    typed_rows,
)

# Reads a schema's definition from Benchling (None: Benchling has no such schema).
Describe = Callable[[str], SchemaDefinition | None]
# What Benchling said of the schemas a write needs described, read before its transaction.
Described = Mapping[str, SchemaDefinition | None]
BACKFILL_CHUNK = 1000
# SQLSTATE classes of what one schema's shape or values make Postgres refuse: data exceptions,
# integrity, dependent objects, syntax or access rules, program limits. Any other error (the
# connection lost, a query cancelled, a deadlock) fails the whole write, as before.
_SCHEMA_ERROR_CLASSES = ("22", "23", "2B", "42", "54")
UNFIT_NAMES_SHOWN = 5


@dataclass
class TableWrite:
    """What one write did to one typed table (``table`` as the catalog has it, or would have
    had it when its creation failed)."""

    table: TypedTable
    rows_written: int = 0
    rows_inserted: int = 0
    changes: Changes = field(default_factory=Changes)
    value_problems: dict[str, str] = field(default_factory=dict)  # field → an example
    widened: list[str] = field(default_factory=list)  # integer columns made numeric
    error: str | None = None  # what Postgres refused: this write of the schema was rolled back

    def add(self, upserted: tuple[int, int], problems: Mapping[str, str]) -> None:
        self.rows_written += upserted[0]
        self.rows_inserted += upserted[1]
        self.value_problems.update(problems)


def merged(writes: Sequence[TableWrite]) -> list[TableWrite]:
    """Writes of several transactions (a listing's pages) as one per table."""
    by_schema: dict[str, TableWrite] = {}
    for write in writes:
        kept = by_schema.setdefault(write.table.schema_id, TableWrite(write.table))
        # The newest columns, with the count from before the first write: a later page's table
        # was loaded with the earlier pages' rows already counted.
        kept.table = replace(write.table, row_count=kept.table.row_count)
        kept.rows_written += write.rows_written
        kept.rows_inserted += write.rows_inserted
        kept.value_problems.update(write.value_problems)
        kept.widened += [name for name in write.widened if name not in kept.widened]
        kept.error = write.error or kept.error
        for name in ("added", "renamed", "removed", "retyped"):
            getattr(kept.changes, name).extend(getattr(write.changes, name))
        kept.changes.unfit = write.changes.unfit
        kept.changes.created |= write.changes.created
        kept.changes.schema_renamed |= write.changes.schema_renamed
    return list(by_schema.values())


def _refused_by_postgres(connection: psycopg.Connection[Any], error: psycopg.Error) -> bool:
    """Whether ``error`` is Postgres refusing one schema's table or rows (see
    ``_SCHEMA_ERROR_CLASSES``), the connection still usable."""
    state = error.sqlstate or ""
    return not connection.broken and state[:2] in _SCHEMA_ERROR_CLASSES


def _upsert(
    connection: psycopg.Connection[Any],
    table: TypedTable,
    rows: list[dict[str, Any]],
    write: TableWrite,
) -> TypedTable:
    """Upsert these rows, an integer column first made numeric where a value passes bigint;
    returns the table as it now is."""
    if columns_past_bigint(table, rows):
        typed_tables.lock_catalog(connection)
        # Read again under the lock: another run may have widened it meanwhile.
        table = typed_tables.load(connection, [table.schema_id])[table.schema_id]
        wider = columns_past_bigint(table, rows)
        if wider:
            table = typed_tables.widen(connection, table, wider)
            write.widened += [column.column_name for column in wider]
    write.add(typed_tables.upsert(connection, table, rows), {})
    return table


def _backfill(
    connection: psycopg.Connection[Any], table: TypedTable, write: TableWrite
) -> TypedTable:
    """The table filled from the schema's stored snapshots (a new table's older ones, or those
    a refused write left out); returns the table as it now is."""
    for chunk in snapshots.stored_of_schema(connection, table.schema_id, BACKFILL_CHUNK):
        documents = [snapshot.document for snapshot in chunk]
        rows, problems = typed_rows(
            table,
            documents,
            {s.document["id"]: s.source_event for s in chunk if s.source_event},
            {s.document["id"]: s.entity_type for s in chunk},
        )
        write.value_problems.update(problems)
        table = _upsert(connection, table, rows, write)
    return table


def _unfit_problem(unfit: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in unfit[:UNFIT_NAMES_SHOWN])
    more = f" and {len(unfit) - UNFIT_NAMES_SHOWN} more" if len(unfit) > UNFIT_NAMES_SHOWN else ""
    return (
        f"{len(unfit)} field(s) have no column, past Postgres's limits (1,600 columns, 8,160"
        f" bytes a row): {shown}{more}; their values are in benchling_entity_snapshots"
    )


@dataclass
class _SchemaWrite:
    """One schema's part of a write: its documents, and what the catalog knows of it."""

    schema_id: str
    documents: list[mapping.EntityDocument]
    table: TypedTable | None
    definition: SchemaDefinition | None  # read from Benchling for this write, if it was
    problem: typed_table_problems.TypedTableProblem | None  # noted before this write


def _write_schema(
    connection: psycopg.Connection[Any],
    part: _SchemaWrite,
    taken: set[str],
    sources: Mapping[str, str],
    entity_types: Mapping[str, str],
) -> TableWrite | None:
    """Follow the schema's definition, then write its rows, each under a savepoint; what
    Postgres refuses is noted as the schema's problem, and what was short is filled again from
    the snapshots once a write is whole."""
    table, write = part.table, None
    try:
        if part.definition is not None:
            evolved, changes = evolve(table, part.definition, taken)
            taken.add(evolved.view_name)
            write = TableWrite(evolved, changes=changes)
            if changes:
                with connection.transaction():
                    evolved = typed_tables.apply(connection, evolved, changes)
            table = evolved
        if table is None:
            return None  # a schema Benchling no longer has: its snapshots alone are kept
        write = write or TableWrite(table)
        with connection.transaction():
            rows, problems = typed_rows(table, part.documents, sources, entity_types)
            write.value_problems.update(problems)
            table = _upsert(connection, table, rows, write)
            if write.changes.created:
                written_ids = [str(document["id"]) for document in part.documents]
                typed_backfills.note_due_if_older(connection, part.schema_id, written_ids)
        if part.problem is not None and (
            part.problem.kind == "error"
            or (part.definition is not None and not write.changes.unfit)
        ):
            # Whole again: the rows a refused write, or a missing column, left out are due.
            with connection.transaction():
                typed_backfills.note_due(connection, part.schema_id)
                typed_table_problems.clear(connection, part.schema_id)
        if write.changes.unfit:  # noted after the refill, so an error is never hidden unfilled
            with connection.transaction():
                typed_table_problems.note(
                    connection,
                    part.schema_id,
                    table.schema_name,
                    "unfit",
                    _unfit_problem(write.changes.unfit),
                )
    except psycopg.Error as error:
        if not _refused_by_postgres(connection, error):
            raise
        failed = write
        assert failed is not None, "every statement runs once the write is made"
        failed.error = f"{type(error).__name__}: {error}".strip()
        name = part.definition.name if part.definition else failed.table.schema_name
        typed_table_problems.note(connection, part.schema_id, name, "error", failed.error)
        return failed
    write.table = table
    return write


def _by_schema(
    documents: Sequence[mapping.EntityDocument],
) -> dict[str, list[mapping.EntityDocument]]:
    by_schema: dict[str, list[mapping.EntityDocument]] = {}
    for document in documents:
        schema_id = mapping.schema_id(document)
        if schema_id:
            by_schema.setdefault(schema_id, []).append(document)
    return by_schema


def unmatched_schemas(
    connection: psycopg.Connection[Any], documents: Sequence[mapping.EntityDocument]
) -> list[str]:
    """The schemas of these documents that the catalog does not yet match (rare: a schema new
    or changed, or with fields past Postgres's limits), to describe before writing them."""
    by_schema = _by_schema(documents)
    tables = typed_tables.load(connection, list(by_schema))
    return [
        schema_id
        for schema_id, of_schema in by_schema.items()
        if needs_description(tables.get(schema_id), of_schema)
    ]


def write_typed(
    connection: psycopg.Connection[Any],
    documents: Sequence[mapping.EntityDocument],
    sources: Mapping[str, str],
    entity_types: Mapping[str, str],
    described: Described,
) -> list[TableWrite]:
    """Write ``documents`` (already in ``benchling_entity_snapshots``) into their schemas'
    typed tables; returns what was done per table, a refused one with its ``error``. Calls no
    one: a schema the catalog does not match follows ``described`` (what Benchling said of the
    ``unmatched_schemas``); one it has no description of (another run changed the catalog
    since) is written to its table as it is."""
    by_schema = _by_schema(documents)
    if not by_schema:
        return []
    tables = typed_tables.load(connection, list(by_schema))
    definitions = {
        schema_id: definition
        for schema_id, of_schema in by_schema.items()
        if needs_description(tables.get(schema_id), of_schema)
        and (definition := described.get(schema_id)) is not None
    }
    taken: set[str] = set()
    if definitions:
        # Catalog changes under its lock, the catalog read again under it: another run may
        # have made them meanwhile.
        typed_tables.lock_catalog(connection)
        tables.update(typed_tables.load(connection, list(definitions)))
        taken = typed_tables.names_taken(connection)
    noted = typed_table_problems.noted(connection, list(by_schema))
    writes = [
        _write_schema(
            connection,
            _SchemaWrite(
                schema_id,
                of_schema,
                tables.get(schema_id),
                definitions.get(schema_id),
                noted.get(schema_id),
            ),
            taken,
            sources,
            entity_types,
        )
        # Schemas in id order: two runs writing the same schemas lock their tables in one order.
        for schema_id, of_schema in sorted(by_schema.items(), key=lambda item: item[0])
    ]
    return [write for write in writes if write is not None]


def backfill(connection: psycopg.Connection[Any], schema_id: str) -> TableWrite | None:
    """Fill the schema's typed table from its stored snapshots, under a savepoint: what
    Postgres refuses is noted as the schema's problem (a later whole write notes it due again).
    None when the catalog has no table of the schema (nothing to fill)."""
    table = typed_tables.load(connection, [schema_id]).get(schema_id)
    if table is None:
        return None
    write = TableWrite(table)
    try:
        with connection.transaction():
            write.table = _backfill(connection, table, write)
    except psycopg.Error as error:
        if not _refused_by_postgres(connection, error):
            raise
        write.error = f"{type(error).__name__}: {error}".strip()
        typed_table_problems.note(connection, schema_id, table.schema_name, "error", write.error)
    return write

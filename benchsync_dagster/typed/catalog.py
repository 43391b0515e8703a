"""What a typed table holds, and how it follows its schema: plain functions over catalog
entries (``storage.typed_tables`` reads and writes them).

A table is named once, from the schema's display name when first seen, and keeps that name; a
column likewise from its field's display name, keyed by the field's definition id, so a renamed
field keeps its column, and its values are read under every name it has had (``names_to_read``:
entity JSON keys fields by display name, and a stored snapshot keeps the names it was fetched
with). A field the schema no longer has keeps its column (NULL from then on). A
field whose type changed keeps its column and type, and is flagged (``type_now``): its values
are not cast, they are left NULL until someone decides (docs/architecture.md says how).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchsync_dagster.mapping import named_field, vanished
from benchsync_dagster.typed.columns import (
    FieldColumn,
    FieldValueError,
    column_values,
    past_bigint,
    row_fits,
    sql_type,
)
from benchsync_dagster.typed.naming import OPTION_ID_SUFFIX, TABLE_SUFFIX, unique_name

# benchsync's own columns, before the fields' (the ``$`` keeps them apart from any field's).
SYSTEM_COLUMNS: dict[str, str] = {
    "id": "text PRIMARY KEY",
    "name$": "text",
    "entity_type$": "text NOT NULL",
    "schema_id$": "text NOT NULL",
    "registry_id$": "text",
    "entity_registry_id$": "text",
    "created_at$": "timestamptz",
    "modified_at$": "timestamptz NOT NULL",
    "archived$": "boolean NOT NULL",
    "archive_reason$": "text",
    "vanished$": "boolean NOT NULL DEFAULT false",  # archived by benchsync: not listed
    "web_url$": "text",
    "source_event$": "text",
    "synced_at$": "timestamptz NOT NULL DEFAULT now()",
}


@dataclass(frozen=True)
class SchemaField:
    """A field definition as Benchling's schema gives it."""

    id: str
    name: str
    type: str
    is_multi: bool

    @property
    def kind(self) -> str:
        return kind(self.type, self.is_multi)


@dataclass(frozen=True)
class SchemaDefinition:
    """An entity schema as Benchling gives it (``GET /entity-schemas/{id}``)."""

    schema_id: str
    name: str
    entity_type: str
    fields: tuple[SchemaField, ...]


def kind(field_type: str, is_multi: bool) -> str:
    """A field's type as compared across definitions: ``integer``, ``text[]`` …"""
    return f"{field_type}[]" if is_multi else field_type


@dataclass(frozen=True)
class TypedTable:
    """One catalog entry: a schema's table, its view, and its field columns in table order."""

    schema_id: str
    entity_type: str
    schema_name: str
    table_name: str
    view_name: str
    columns: tuple[FieldColumn, ...] = ()
    row_count: int = 0

    def column_of(self, field_name: str) -> FieldColumn | None:
        return next((c for c in self.columns if c.field_name == field_name), None)

    @property
    def retyped(self) -> list[FieldColumn]:
        """The columns whose field Benchling now gives another type."""
        return [column for column in self.columns if column.type_now is not None]


def catalog_json(tables: Iterable[TypedTable]) -> str:
    """The catalog as text, in schema-id order: what a code location hands its run workers."""
    return json.dumps([dataclasses.asdict(t) for t in sorted(tables, key=lambda t: t.schema_id)])


def tables_from_json(text: str) -> list[TypedTable]:
    """The catalog ``catalog_json`` wrote."""
    return [
        TypedTable(
            **{key: value for key, value in table.items() if key != "columns"},
            columns=tuple(
                FieldColumn(**{**column, "former_names": tuple(column["former_names"])})
                for column in table["columns"]
            ),
        )
        for table in json.loads(text)
    ]


@dataclass
class Changes:
    """How a definition changed a table: what DDL and catalog updates it takes."""

    created: bool = False
    added: list[FieldColumn] = field(default_factory=list)
    renamed: list[tuple[str | None, str]] = field(default_factory=list)  # (was, now)
    removed: list[str] = field(default_factory=list)
    retyped: list[FieldColumn] = field(default_factory=list)
    schema_renamed: bool = False
    # Fields past Postgres's limits (``row_fits``): no column, their values in the snapshots
    # alone. Not a change to make: they are found again at each description.
    unfit: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.created
            or self.added
            or self.renamed
            or self.removed
            or self.retyped
            or self.schema_renamed
        )


def needs_description(table: TypedTable | None, documents: Iterable[Mapping[str, Any]]) -> bool:
    """Whether these documents show something the catalog does not know (a new schema, or a
    field name or type it has not seen), so that the schema's definition must be read."""
    if table is None:
        return True
    known = {(c.field_name, c.type_now or kind(c.field_type, c.is_multi)) for c in table.columns}
    for document in documents:
        fields = document.get("fields")
        for name, value in fields.items() if isinstance(fields, Mapping) else ():
            if not isinstance(value, Mapping):
                continue
            seen = kind(str(value.get("type")), bool(value.get("isMulti")))
            if (name, seen) not in known:
                return True
        if (document.get("schema") or {}).get("name") not in (None, table.schema_name):
            return True
    return False


def _names_but(column: FieldColumn, name: str | None) -> tuple[str, ...]:
    """The column's display names, newest first, but ``name`` (the one it has now)."""
    names = (column.field_name, *column.former_names)
    return tuple(dict.fromkeys(n for n in names if n is not None and n != name))


def names_to_read(
    table: TypedTable, column: FieldColumn, also: Iterable[str] = ()
) -> tuple[str, ...]:
    """The names a field's value may be under in an entity's JSON, newest first: its name now,
    ``also`` (a name the App configuration gives it), then those it had before, but a name
    another field of the table has now (under it is that field's value, not this one's)."""
    held = {c.field_name for c in table.columns if c.field_id != column.field_id}
    names = (column.field_name, *also, *column.former_names)
    return tuple(dict.fromkeys(n for n in names if n is not None and n not in held))


def _new_column(definition: SchemaField, taken: set[str]) -> FieldColumn:
    reserve = len(OPTION_ID_SUFFIX) if definition.type == "dropdown" else 0
    column_name = unique_name(definition.name, taken, "field", reserve)
    taken.add(column_name)
    return FieldColumn(
        field_id=definition.id,
        field_name=definition.name,
        field_type=definition.type,
        is_multi=definition.is_multi,
        column_name=column_name,
        option_id_column=column_name + OPTION_ID_SUFFIX if definition.type == "dropdown" else None,
        sql_type=sql_type(definition.type, definition.is_multi),
    )


def evolve(
    table: TypedTable | None, definition: SchemaDefinition, table_names_taken: Collection[str]
) -> tuple[TypedTable, Changes]:
    """The catalog entry after ``definition``, and what changed (a new table when ``table`` is
    None, named apart from ``table_names_taken``)."""
    changes = Changes()
    if table is None:
        view_name = unique_name(definition.name, table_names_taken, "schema", len(TABLE_SUFFIX))
        table = TypedTable(
            schema_id=definition.schema_id,
            entity_type=definition.entity_type,
            schema_name=definition.name,
            table_name=view_name + TABLE_SUFFIX,
            view_name=view_name,
        )
        changes.created = True
    elif table.schema_name != definition.name:
        changes.schema_renamed = True
    by_id = {column.field_id: column for column in table.columns}
    taken = set(SYSTEM_COLUMNS) | {c.column_name for c in table.columns}
    columns = []
    for column in table.columns:
        current = next((f for f in definition.fields if f.id == column.field_id), None)
        if current is None:
            if column.field_name is not None:
                changes.removed.append(column.field_name)
            columns.append(
                dataclasses.replace(column, field_name=None, former_names=_names_but(column, None))
            )
            continue
        if current.name != column.field_name:
            changes.renamed.append((column.field_name, current.name))
        type_now = (
            None if current.kind == kind(column.field_type, column.is_multi) else current.kind
        )
        updated = dataclasses.replace(
            column,
            field_name=current.name,
            type_now=type_now,
            former_names=_names_but(column, current.name),
        )
        if type_now != column.type_now:  # newly retyped, or back to its column's type
            changes.retyped.append(updated)
        columns.append(updated)
    types = column_types(columns)
    for definition_field in definition.fields:
        if definition_field.id not in by_id:
            kind_of = sql_type(definition_field.type, definition_field.is_multi)
            new_types = [kind_of] * (2 if definition_field.type == "dropdown" else 1)
            if not row_fits([*types, *new_types]):
                changes.unfit.append(definition_field.name)
                continue
            types += new_types
            added = _new_column(definition_field, taken)
            changes.added.append(added)
            columns.append(added)
    return dataclasses.replace(table, schema_name=definition.name, columns=tuple(columns)), changes


def column_types(columns: Iterable[FieldColumn]) -> list[str]:
    """A table's column types in table order: benchsync's own, then the fields'."""
    types = [declared.split()[0] for declared in SYSTEM_COLUMNS.values()]
    for column in columns:
        types += [column.sql_type] * (1 if column.option_id_column is None else 2)
    return types


def columns_past_bigint(table: TypedTable, rows: Sequence[Mapping[str, Any]]) -> list[FieldColumn]:
    """The table's bigint columns that some of these rows' values pass (to become numeric)."""
    return [
        column
        for column in table.columns
        if column.sql_type.startswith("bigint")
        and any(past_bigint(row.get(column.column_name)) for row in rows)
    ]


def typed_rows(
    table: TypedTable,
    documents: Sequence[Mapping[str, Any]],
    sources: Mapping[str, str],
    entity_types: Mapping[str, str],
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The table's rows for these documents (by column name, JSON-ready), sorted by id (so
    that concurrent upserts lock rows in one order), and per field why a value was left NULL."""
    problems: dict[str, str] = {}
    rows = []
    read_as = {column.field_id: names_to_read(table, column) for column in table.columns}
    for document in sorted(documents, key=lambda d: str(d["id"])):
        archive = document.get("archiveRecord") or {}
        row: dict[str, Any] = {
            "id": document["id"],
            "name$": document.get("name"),
            "entity_type$": entity_types.get(document["id"], table.entity_type),
            "schema_id$": table.schema_id,
            "registry_id$": document.get("registryId"),
            "entity_registry_id$": document.get("entityRegistryId"),
            "created_at$": document.get("createdAt"),
            "modified_at$": document["modifiedAt"],
            "archived$": bool(archive),
            "archive_reason$": archive.get("reason") if isinstance(archive, Mapping) else None,
            "vanished$": vanished(document),
            "web_url$": document.get("webURL"),
            "source_event$": sources.get(document["id"]),
        }
        for column in table.columns:
            if column.field_name is None or column.type_now is not None:
                continue  # a removed field's column stays NULL; a retyped one is not cast
            try:
                row.update(column_values(column, named_field(document, read_as[column.field_id])))
            except FieldValueError as error:
                problems[column.field_name] = f"{document['id']}: {error}"
        rows.append(row)
    return rows, problems

"""Each typed table as a Dagster asset, found by its schema's name: specs built from the catalog
when the code location loads, and the events a writer (a sync, a poll, a reconciliation) logs
for the tables it wrote — a materialization and the ``field_types_unchanged`` check.

Nothing a tenant user names reaches a Dagster name as it is: the key is made by
``naming.dagster_name`` (Dagster refuses anything but ``[A-Za-z0-9_]``, and a refused name stops
the whole code location from loading); the schema's display name, in any script, is in the
description and the metadata, and its Postgres names in ``dagster/table_name``."""

import re
from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg

from benchsync_dagster.defs.resources import PostgresResource
from benchsync_dagster.storage import typed_tables
from benchsync_dagster.storage.typed_tables import qualified_name
from benchsync_dagster.typed.catalog import SYSTEM_COLUMNS, TypedTable
from benchsync_dagster.typed.naming import dagster_name
from benchsync_dagster.typed.write import TableWrite

GROUP = "benchling_typed_tables"
TYPE_CHECK = "field_types_unchanged"
# What Dagster accepts as an asset tag's value (a longer or odder schema id is left untagged).
_TAG_VALUE = re.compile(r"[A-Za-z0-9_.-]{1,63}")


def typed_table_key(table: TypedTable) -> dg.AssetKey:
    return dg.AssetKey(["benchling", dagster_name(table.view_name, table.schema_id)])


def column_schema(table: TypedTable) -> dg.TableSchema:
    system = [
        dg.TableColumn(name, kind.split()[0], description="benchsync's")
        for name, kind in SYSTEM_COLUMNS.items()
    ]
    fields = []
    for column in table.columns:
        field = f"field {column.field_name!r}" if column.field_name else "a removed field"
        fields.append(
            dg.TableColumn(
                column.column_name, column.sql_type, description=f"{field} ({column.field_type})"
            )
        )
        if column.option_id_column is not None:
            fields.append(
                dg.TableColumn(column.option_id_column, column.sql_type, description="option ids")
            )
    return dg.TableSchema(columns=[*system, *fields])


def _table_metadata(table: TypedTable) -> dict[str, Any]:
    return {
        "dagster/table_name": qualified_name(table.table_name),
        "dagster/column_schema": column_schema(table),
        "view_hiding_archived": qualified_name(table.view_name),
        "schema_id": table.schema_id,
        "schema_name": table.schema_name,
    }


def typed_table_specs(tables: Iterable[TypedTable], upstream: dg.AssetKey) -> list[dg.AssetSpec]:
    """One spec per catalogued table, downstream of the raw snapshots."""
    return [
        dg.AssetSpec(
            key=typed_table_key(table),
            description=(
                f"{table.schema_name}: Benchling schema ({table.schema_id}, {table.entity_type}),"
                f" a row per entity, a column per field, in {qualified_name(table.table_name)};"
                f" the view {qualified_name(table.view_name)} hides archived rows. Written with"
                " the snapshots by sync_job, poll_job and reconciliation_job."
            ),
            deps=[upstream],
            group_name=GROUP,
            kinds={"postgres"},
            tags={"benchling_schema": table.schema_id}
            if _TAG_VALUE.fullmatch(table.schema_id)
            else {},
            metadata=_table_metadata(table),
        )
        for table in tables
    ]


def typed_table_checks(tables: Sequence[TypedTable]) -> list[dg.AssetChecksDefinition]:
    """Each table's schema-change check: evaluated by every run that writes the table, and
    runnable on its own (it reads the catalog)."""
    if not tables:
        return []
    specs = [
        dg.AssetCheckSpec(
            TYPE_CHECK,
            asset=typed_table_key(table),
            description="Fails while a field's type in Benchling differs from its column's.",
        )
        for table in tables
    ]

    @dg.multi_asset_check(specs=specs, can_subset=True, name="typed_table_field_types")
    def typed_table_field_types(
        context: dg.AssetCheckExecutionContext, postgres: PostgresResource
    ) -> Iterable[dg.AssetCheckResult]:
        with postgres.transaction() as connection:
            catalog = typed_tables.load(connection)
        for table in catalog.values():
            key = dg.AssetCheckKey(typed_table_key(table), TYPE_CHECK)
            if key in context.selected_asset_check_keys:
                yield field_types_result(table)

    return [typed_table_field_types]


def field_types_result(table: TypedTable) -> dg.AssetCheckResult:
    retyped = {
        str(c.field_name): f"column {c.column_name} is {c.field_type}, Benchling says {c.type_now}"
        for c in table.retyped
    }
    return dg.AssetCheckResult(
        asset_key=typed_table_key(table),
        check_name=TYPE_CHECK,
        passed=not retyped,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            "fields whose type changed in Benchling: " + ", ".join(sorted(retyped))
            if retyped
            else "every field has its column's type"
        ),
        metadata={"retyped_fields": dg.MetadataValue.json(retyped)},
    )


def typed_table_events(
    writes: Sequence[TableWrite], run_id: str
) -> list[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    """What a run logs for the typed tables it wrote."""
    events: list[dg.AssetMaterialization | dg.AssetCheckEvaluation] = []
    for write in writes:
        if write.error is not None:
            continue  # rolled back: nothing written (typed_tables_complete names it)
        table, changes = write.table, write.changes
        key = typed_table_key(table)
        metadata: dict[str, Any] = {
            **_table_metadata(table),
            "dagster/row_count": table.row_count + write.rows_inserted,
            "rows_written": write.rows_written,
        }
        if changes.created:
            metadata["created"] = True
        if changes.added:
            metadata["columns_added"] = [c.column_name for c in changes.added]
        if changes.renamed:
            metadata["fields_renamed"] = [f"{was} → {now}" for was, now in changes.renamed]
        if changes.removed:
            metadata["fields_removed"] = list(changes.removed)
        if write.widened:
            metadata["columns_made_numeric"] = write.widened
        if write.value_problems:
            metadata["values_left_null"] = dg.MetadataValue.json(write.value_problems)
        events.append(
            dg.AssetMaterialization(
                asset_key=key, description=f"written by run {run_id}", metadata=metadata
            )
        )
        result = field_types_result(table)
        events.append(
            dg.AssetCheckEvaluation(
                asset_key=key,
                check_name=TYPE_CHECK,
                passed=result.passed,
                severity=result.severity,
                description=result.description,
                metadata=result.metadata,
            )
        )
    return events


def log_typed_writes(context: dg.AssetExecutionContext, writes: Sequence[TableWrite]) -> None:
    """Log what a run did to the typed tables: their materializations and checks, and an error
    for each field whose type changed (its column is left as it was, its values NULL), each
    schema Postgres refused, and each with fields past its limits."""
    for write in writes:
        table = write.table
        if write.error is not None:
            context.log.error(
                f"schema {table.schema_name!r} ({table.schema_id}): Postgres refused its typed"
                f" table {qualified_name(table.table_name)}, rolled back alone (its snapshots"
                f" are stored): {write.error}"
            )
        elif write.changes.unfit:
            context.log.error(
                f"schema {table.schema_name!r} ({table.schema_id}):"
                f" {len(write.changes.unfit)} field(s) past Postgres's limits have no column in"
                f" {qualified_name(table.table_name)}"
            )
        for column in write.table.retyped:
            context.log.error(
                f"{qualified_name(write.table.table_name)}: field {column.field_name!r} is now"
                f" {column.type_now} in Benchling, but its column {column.column_name!r} holds"
                f" {column.field_type}; its values are left NULL, not cast (see the README's"
                " typed tables section)"
            )
    for event in typed_table_events(writes, context.run.run_id):
        context.log_event(event)

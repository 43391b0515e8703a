"""``typed_table_backfill_job``: typed tables filled from their schemas' older snapshots, in a
run of their own. A write that made a table (or found it whole again after a refused write)
wrote its own rows and noted the rest due; filling it is O(rows), never a sync batch's work."""

import dagster as dg

from benchsync_dagster.defs.resources import PostgresResource
from benchsync_dagster.defs.sync.jobs import MAX_RUNTIME_TAG, REBUILD_TIMEOUT_SECONDS
from benchsync_dagster.defs.typed.assets import typed_table_events
from benchsync_dagster.storage import typed_backfills
from benchsync_dagster.storage.typed_tables import qualified_name
from benchsync_dagster.typed.write import TableWrite, backfill


@dg.op
def backfill_typed_tables(context: dg.OpExecutionContext, postgres: PostgresResource) -> None:
    """Fill each typed table due from its schema's stored snapshots, a schema per transaction,
    and log each table's materialization."""
    with postgres.transaction() as connection:
        due = typed_backfills.due(connection)
    writes: list[TableWrite] = []
    for schema_id, due_since in due.items():
        with postgres.transaction() as connection:
            write = backfill(connection, schema_id)
            typed_backfills.done(connection, schema_id, due_since)
        if write is None:
            continue  # the table is gone: there is nothing to fill
        writes.append(write)
        table = write.table
        if write.error is not None:
            context.log.error(
                f"schema {table.schema_name!r} ({schema_id}): Postgres refused filling"
                f" {qualified_name(table.table_name)} from its snapshots: {write.error}"
            )
        else:
            context.log.info(
                f"filled {qualified_name(table.table_name)} from its snapshots:"
                f" {write.rows_written} rows written"
            )
    for event in typed_table_events(writes, context.run.run_id):
        if isinstance(event, dg.AssetMaterialization):  # no field changed: no type check
            context.log_event(event)


@dg.job(
    description="Fill typed tables from their schemas' stored snapshots (requested by"
    " typed_table_backfill_sensor when a write made a table, or found one whole again).",
    # Reads every snapshot of a schema: it may take far longer than a batch.
    tags={MAX_RUNTIME_TAG: str(REBUILD_TIMEOUT_SECONDS)},
)
def typed_table_backfill_job() -> None:
    backfill_typed_tables()

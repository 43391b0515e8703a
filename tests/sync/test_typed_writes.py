"""Typed-table writes do their slow work outside a sync batch's transaction: Benchling describes
a schema before the transaction opens, and a new table's older snapshots are filled in by a run
of their own (``typed_table_backfill_job``), against real Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import psycopg

from benchsync_dagster import mapping
from benchsync_dagster.defs.backfill.jobs import typed_table_backfill_job
from benchsync_dagster.defs.backfill.sensors import typed_table_backfill_sensor
from benchsync_dagster.defs.resources import PostgresResource
from benchsync_dagster.snapshot_writer import SnapshotWriter
from benchsync_dagster.storage import snapshots, typed_backfills, typed_tables
from benchsync_dagster.typed.catalog import SchemaDefinition, SchemaField, TypedTable
from benchsync_dagster.typed.write import TableWrite, merged
from tests.support.documents import FIELD, SCHEMA_ID, entity_document

PLASMID = SchemaDefinition(
    schema_id=SCHEMA_ID,
    name="Plasmid",
    entity_type="custom_entity",
    fields=(SchemaField(id="tsf_notes", name=FIELD, type="text", is_multi=False),),
)


class CountedTransactions:
    """``PostgresResource.transaction`` as the snapshot step uses it, counting those open."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.open = 0

    @contextmanager
    def __call__(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.database_url) as connection:
            self.open += 1
            try:
                yield connection
            finally:
                self.open -= 1


def _typed_ids(db: psycopg.Connection[Any]) -> set[str]:
    table = typed_tables.load(db, [SCHEMA_ID])[SCHEMA_ID]
    rows = db.execute(f'SELECT id FROM benchling."{table.table_name}"').fetchall()  # noqa: S608
    return {entity_id for (entity_id,) in rows}


def _write(database_url: str, ids: list[str]) -> list[tuple[str, int]]:
    """A sync batch's write of these entities; returns each Benchling description asked for,
    with the transactions open at the time."""
    transactions = CountedTransactions(database_url)
    asked: list[tuple[str, int]] = []

    def describe(schema_id: str) -> SchemaDefinition:
        asked.append((schema_id, transactions.open))
        return PLASMID

    writer = SnapshotWriter(transactions, describe, None, {}, max_bytes=10**9)
    writer.add([entity_document(entity_id) for entity_id in ids], "custom_entity")
    writer.flush()
    return asked


def test_benchling_describes_a_new_schema_before_the_write_transaction_opens(
    migrated_database_url: str, db: psycopg.Connection[Any]
) -> None:
    asked = _write(migrated_database_url, ["bfi_t001", "bfi_t002"])

    assert asked == [(SCHEMA_ID, 0)]  # asked once, with no transaction open
    assert _typed_ids(db) == {"bfi_t001", "bfi_t002"}
    assert typed_backfills.due(db) == {}  # nothing older to fill: no backfill run
    assert _write(migrated_database_url, ["bfi_t003"]) == []  # the catalog matches now


def test_a_new_table_gets_the_batch_s_rows_and_its_older_snapshots_in_a_run_of_their_own(
    migrated_database_url: str, db: psycopg.Connection[Any]
) -> None:
    older = [entity_document(f"bfi_old{i:03}") for i in range(3)]
    # Stored before the table could be made (before typed tables, say).
    snapshots.upsert(
        db, mapping.snapshot_frame(older, {}, {d["id"]: "custom_entity" for d in older})
    )
    postgres = PostgresResource(database_url=migrated_database_url)

    _write(migrated_database_url, ["bfi_new001"])

    assert _typed_ids(db) == {"bfi_new001"}  # the batch's own rows, and no more
    assert set(typed_backfills.due(db)) == {SCHEMA_ID}
    with dg.build_sensor_context(resources={"postgres": postgres}) as context:
        request = typed_table_backfill_sensor(context)
    assert isinstance(request, dg.RunRequest)

    result = typed_table_backfill_job.execute_in_process(
        resources={"postgres": postgres}, instance=dg.DagsterInstance.ephemeral()
    )

    assert result.success
    assert _typed_ids(db) == {"bfi_new001", *(d["id"] for d in older)}
    assert typed_backfills.due(db) == {}
    (filled,) = result.asset_materializations_for_node("backfill_typed_tables")
    assert filled.asset_key == dg.AssetKey(["benchling", "plasmid"])
    with dg.build_sensor_context(resources={"postgres": postgres}) as context:
        assert isinstance(typed_table_backfill_sensor(context), dg.SkipReason)


def test_a_listings_pages_merged_count_each_new_row_once() -> None:
    def page(rows_before: int, inserted: int) -> TableWrite:
        table = TypedTable("ts_1", "custom_entity", "S", "s$raw", "s", row_count=rows_before)
        return TableWrite(table, rows_written=inserted, rows_inserted=inserted)

    # The second page's table was loaded after the first page's 5 rows were counted.
    (write,) = merged([page(10, 5), page(15, 3)])

    assert write.table.row_count + write.rows_inserted == 18

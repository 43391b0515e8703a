"""The per-table SQL against a real Postgres: newest wins, and writing twice changes nothing."""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from benchsync_dagster import mapping
from benchsync_dagster.storage import reconciliations, snapshots, synced_data, typed_tables
from benchsync_dagster.typed.catalog import (
    SchemaDefinition,
    SchemaField,
    TypedTable,
    evolve,
    typed_rows,
)
from tests.support.documents import FIELD, SCHEMA_ID, entity_document
from tests.support.plans import ExplainingConnection, scans_of

Connection = psycopg.Connection[Any]
NOTES = SchemaField("tsf_notes", FIELD, "text", is_multi=False)


def _write(db: Connection, *documents: dict[str, Any], source: str = "msg_1") -> tuple[int, int]:
    sources = {document["id"]: source for document in documents}
    return (
        snapshots.upsert(db, mapping.snapshot_frame(list(documents), sources)),
        synced_data.upsert(db, mapping.synced_data_frame(list(documents), (FIELD,), sources)),
    )


def _row(db: Connection, entity_id: str) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT entity_name, field_value, modified_at, archived, source_event"
        " FROM synced_benchling_data WHERE benchling_api_id = %s",
        [entity_id],
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_writing_the_same_batch_twice_leaves_one_row_per_entity(db: Connection) -> None:
    batch = [entity_document(f"bfi_{i:03}") for i in range(5)]

    assert _write(db, *batch) == (5, 5)
    assert _write(db, *batch) == (0, 0)

    ids = [document["id"] for document in batch]
    assert synced_data.row_count(db) == 5
    assert snapshots.row_count(db) == 5
    assert synced_data.duplicate_ids(db, ids) == 0
    assert synced_data.snapshots_without_row(db, ids, SCHEMA_ID) == 0


def test_an_older_snapshot_never_replaces_a_newer_one(db: Connection) -> None:
    newer = entity_document("bfi_1", "2026-11-01T10:00:02Z", value="new")
    older = entity_document("bfi_1", "2026-11-01T10:00:01Z", value="old")

    _write(db, newer, source="msg_new")
    assert _write(db, older, source="msg_old") == (0, 0)

    assert _row(db, "bfi_1")[1] == "new"
    assert _row(db, "bfi_1")[4] == "msg_new"
    with db.transaction():  # a server-side cursor's
        ((stored,),) = snapshots.stored_of_schema(db, SCHEMA_ID, 10)
    assert stored.document["fields"][FIELD]["value"] == "new"


def test_a_newer_snapshot_replaces_an_older_one(db: Connection) -> None:
    _write(db, entity_document("bfi_1", "2026-11-01T10:00:01Z", value="old"))

    written = _write(db, entity_document("bfi_1", "2026-11-01T10:00:02Z", value="new"))

    assert written == (1, 1)
    assert _row(db, "bfi_1")[1] == "new"


def test_same_modified_at_rewrites_only_a_row_whose_content_differs(db: Connection) -> None:
    _write(db, entity_document("bfi_1", value="a"))
    documents = [entity_document("bfi_1", value="a")]

    unchanged = synced_data.upsert(db, mapping.synced_data_frame(documents, (FIELD,), {}))
    # The App configuration now names another field: same modifiedAt, different value.
    other_field = synced_data.upsert(db, mapping.synced_data_frame(documents, ("Other",), {}))

    assert (unchanged, other_field) == (0, 1)
    assert _row(db, "bfi_1")[1] is None


def test_archiving_shows_in_the_row(db: Connection) -> None:
    _write(db, entity_document("bfi_1", "2026-11-01T10:00:01Z"))

    _write(db, entity_document("bfi_1", "2026-11-01T10:00:02Z", archive_reason="Retired"))

    assert _row(db, "bfi_1")[3] is True


def test_modified_at_by_id_reads_only_stored_rows(db: Connection) -> None:
    _write(db, entity_document("bfi_1"))

    stored = synced_data.modified_at_by_id(db, ["bfi_1", "bfi_unknown"])

    assert set(stored) == {"bfi_1"}
    assert stored["bfi_1"][1] is False


def test_a_snapshot_of_the_synced_schema_without_its_row_is_counted_in_its_batch(
    db: Connection,
) -> None:
    _write(db, entity_document("bfi_1"))
    orphan = entity_document("bfi_2", schema_id=SCHEMA_ID)
    snapshots.upsert(db, mapping.snapshot_frame([orphan], {}))

    assert synced_data.snapshots_without_row(db, ["bfi_1", "bfi_2"], SCHEMA_ID) == 1
    assert synced_data.snapshots_without_row(db, ["bfi_1"], SCHEMA_ID) == 0
    assert synced_data.snapshots_without_row(db, ["bfi_2"], "ts_other") == 0


def test_preview_lists_the_batch_rows_newest_first(db: Connection) -> None:
    _write(
        db,
        entity_document("bfi_1", "2026-11-01T10:00:01Z"),
        entity_document("bfi_2", "2026-11-01T10:00:02Z"),
        entity_document("bfi_3", "2026-11-01T10:00:03Z"),
    )

    preview = synced_data.preview(db, ["bfi_1", "bfi_2"], limit=1)

    assert list(preview["benchling_api_id"]) == ["bfi_2"]


def test_row_counts_follow_inserts_deletes_and_truncates_not_updates(db: Connection) -> None:
    _write(db, *(entity_document(f"bfi_{i}") for i in range(3)))
    _write(db, entity_document("bfi_0", "2026-12-01T00:00:00Z"))  # an update: same count
    assert (snapshots.row_count(db), synced_data.row_count(db)) == (3, 3)

    synced_data.delete_other_schemas(db, "ts_other")
    db.execute("DELETE FROM benchling_entity_snapshots WHERE entity_id = 'bfi_0'")
    assert (snapshots.row_count(db), synced_data.row_count(db)) == (2, 0)

    db.execute("TRUNCATE benchling_entity_snapshots")
    assert snapshots.row_count(db) == 0
    _write(db, entity_document("bfi_9"))
    assert (snapshots.row_count(db), synced_data.row_count(db)) == (1, 1)


def test_row_counts_agree_with_count_after_concurrent_writers(migrated_database_url: str) -> None:
    def write(start: int) -> None:
        with psycopg.connect(migrated_database_url, autocommit=True) as connection:
            for batch in range(10):
                documents = [entity_document(f"bfi_{start + batch * 10 + i}") for i in range(10)]
                _write(connection, *documents)

    with psycopg.connect(migrated_database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE benchling_entity_snapshots, synced_benchling_data")
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(write, (0, 50, 1000, 2000)))  # the first two overlap by half
        counted = connection.execute(
            "SELECT (SELECT count(*) FROM benchling_entity_snapshots),"
            " (SELECT count(*) FROM synced_benchling_data)"
        ).fetchone()

        assert counted == (snapshots.row_count(connection), synced_data.row_count(connection))
        assert counted == (350, 350)


def test_schema_types_reads_one_snapshot_per_schema(
    db: Connection, migrated_database_url: str
) -> None:
    db.execute(
        "INSERT INTO benchling_entity_snapshots (entity_id, entity_type, schema_id, modified_at,"
        " archived, document) SELECT 'seq_' || i, 'dna_sequence', 'ts_' || (i % 2), now(), false,"
        " '{}' FROM generate_series(1, 20000) AS i"
    )
    db.execute("ANALYZE benchling_entity_snapshots")

    with ExplainingConnection.connect(migrated_database_url, autocommit=True) as connection:
        connection.plans, connection.analyze = [], True
        types = snapshots.schema_types(connection, ["ts_0", "ts_1", "ts_unknown"])

    assert types == {"ts_0": "dna_sequence", "ts_1": "dna_sequence"}
    # EXPLAIN rounds a scan's rows to a whole number a loop: at most one per schema asked.
    read = sum(
        scan["Actual Rows"] * scan["Actual Loops"]
        for scan in scans_of(connection.plans, snapshots.TABLE)
    )
    assert read <= 3


def _slot(connection: Connection) -> int:
    row = connection.execute("SELECT benchsync.row_count_slot()").fetchone()
    assert row is not None
    return int(row[0])


def _typed_table(db: Connection) -> TypedTable:
    table, changes = evolve(
        None, SchemaDefinition(SCHEMA_ID, "Plasmid", "custom_entity", (NOTES,)), set()
    )
    return typed_tables.apply(db, table, changes)


def _write_with_typed(
    connection: Connection, table: TypedTable, *documents: dict[str, Any]
) -> None:
    _write(connection, *documents)
    typed_tables.upsert(connection, table, typed_rows(table, documents, {}, {})[0])


def _counts(connection: Connection) -> tuple[int, int, int]:
    typed = typed_tables.load(connection, [SCHEMA_ID])[SCHEMA_ID]
    return snapshots.row_count(connection), synced_data.row_count(connection), typed.row_count


def test_concurrent_writers_do_not_wait_for_each_others_row_count(
    db: Connection, migrated_database_url: str
) -> None:
    table = _typed_table(db)
    with psycopg.connect(migrated_database_url) as first:
        _write_with_typed(first, table, entity_document("bfi_1"))  # its transaction stays open
        second = psycopg.connect(migrated_database_url, autocommit=True)
        while _slot(second) == _slot(first):  # another backend may share a slot: it would wait
            second.close()
            second = psycopg.connect(migrated_database_url, autocommit=True)
        with second:
            # One counter row per table (migration 0011, typed_tables.row_count) made this wait
            # for the first to commit.
            second.execute("SET lock_timeout = '10s'")
            _write_with_typed(second, table, entity_document("bfi_2"))
            assert _counts(second) == (1, 1, 1)
            first.commit()
            assert _counts(second) == (2, 2, 2)


def test_writers_of_overlapping_batches_in_opposite_orders_do_not_deadlock(
    db: Connection, migrated_database_url: str
) -> None:
    table = _typed_table(db)
    rounds, ids = 5, [f"bfi_{i:04}" for i in range(600)]
    together = threading.Barrier(2)

    def write(order: list[str]) -> None:
        position = {entity_id: n for n, entity_id in enumerate(order)}
        with psycopg.connect(migrated_database_url) as connection:
            for round_ in range(rounds):
                modified_at = f"2026-11-0{round_ + 1}T10:00:00Z"
                documents = [entity_document(i, modified_at) for i in order]
                rows, _ = typed_rows(table, documents, {}, {})
                # Rows in the callers' orders; in those orders this deadlocked within a round.
                rows.sort(key=lambda row: position[row["id"]])
                together.wait()
                try:
                    with connection.transaction():
                        _write(connection, *documents)
                        typed_tables.upsert(connection, table, rows)
                        reconciliations.note_listed(connection, "run_1", order)
                except psycopg.Error:
                    together.abort()  # the other writer stops waiting for this one
                    raise

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(write, [ids, ids[::-1]]))

    assert _counts(db) == (600, 600, 600)

"""The per-table SQL against a real Postgres: newest wins, and writing twice changes nothing."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from benchsync_dagster import mapping
from benchsync_dagster.storage import snapshots, synced_data
from tests.support.documents import FIELD, SCHEMA_ID, entity_document

Connection = psycopg.Connection[Any]


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

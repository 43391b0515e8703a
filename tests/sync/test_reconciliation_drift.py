from datetime import UTC, datetime

from benchsync_dagster.reconciliation import Drift, find_drift, oldest_copies
from tests.support.documents import entity_document

STORED_AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def test_each_kind_of_drift_is_counted_and_repaired() -> None:
    documents = [
        entity_document("bfi_same", "2026-11-01T10:00:00Z"),
        entity_document("bfi_missing", "2026-11-01T10:00:00Z"),
        entity_document("bfi_stale", "2026-11-01T11:00:00Z"),
        entity_document("bfi_archived", "2026-11-01T11:00:00Z", archive_reason="Retired"),
    ]
    stored = {
        "bfi_same": (STORED_AT, False),
        "bfi_stale": (STORED_AT, False),
        "bfi_archived": (STORED_AT, False),
    }
    drift = Drift()

    repair = find_drift(documents, stored, drift)

    assert [document["id"] for document in repair] == ["bfi_missing", "bfi_stale", "bfi_archived"]
    assert drift.as_metadata() == {"missing": 1, "stale": 1, "archived": 1, "vanished": 0}
    assert drift.total == 3


def test_a_row_newer_than_the_listing_is_not_drift() -> None:
    drift = Drift()

    repair = find_drift(
        [entity_document("bfi_1", "2026-11-01T09:00:00Z")], {"bfi_1": (STORED_AT, False)}, drift
    )

    assert repair == []
    assert drift.total == 0


def test_an_entity_of_the_configured_schema_is_as_old_as_its_older_copy() -> None:
    older = datetime(2026, 10, 1, tzinfo=UTC)
    snapshots = {
        "bfi_both": (STORED_AT, True),
        "bfi_no_row": (STORED_AT, False),
        "seq_other_schema": (STORED_AT, False),
    }
    rows = {"bfi_both": (older, False), "bfi_no_snapshot": (STORED_AT, False)}

    stored = oldest_copies(snapshots, rows, ["bfi_both", "bfi_no_row", "bfi_no_snapshot"])

    assert stored == {"bfi_both": (older, False), "seq_other_schema": (STORED_AT, False)}

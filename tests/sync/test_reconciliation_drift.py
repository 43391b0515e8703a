from datetime import UTC, datetime

import pytest

from benchsync_dagster.reconciliation import Drift, Vanishing, find_drift, oldest_copies
from benchsync_dagster.storage import StoredVersion
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
        "bfi_same": StoredVersion(STORED_AT, False, False),
        "bfi_stale": StoredVersion(STORED_AT, False, False),
        "bfi_archived": StoredVersion(STORED_AT, False, False),
    }
    drift = Drift()

    repair = find_drift(documents, stored, drift)

    assert [document["id"] for document in repair] == ["bfi_missing", "bfi_stale", "bfi_archived"]
    assert drift.as_metadata() == {
        "missing": 1,
        "stale": 1,
        "archived": 1,
        "vanished": 0,
        "reappeared": 0,
    }
    assert drift.total == 3


def test_a_row_newer_than_the_listing_is_not_drift() -> None:
    drift = Drift()

    repair = find_drift(
        [entity_document("bfi_1", "2026-11-01T09:00:00Z")],
        {"bfi_1": StoredVersion(STORED_AT, False, False)},
        drift,
    )

    assert repair == []
    assert drift.total == 0


def test_an_entity_of_the_configured_schema_is_as_old_as_its_older_copy() -> None:
    older = datetime(2026, 10, 1, tzinfo=UTC)
    snapshots = {
        "bfi_both": StoredVersion(STORED_AT, True, True),
        "bfi_no_row": StoredVersion(STORED_AT, False, False),
        "seq_other_schema": StoredVersion(STORED_AT, False, False),
    }
    rows = {
        "bfi_both": StoredVersion(older, False, False),
        "bfi_no_snapshot": StoredVersion(STORED_AT, False, False),
    }

    stored = oldest_copies(snapshots, rows, ["bfi_both", "bfi_no_row", "bfi_no_snapshot"])

    assert stored == {
        "bfi_both": StoredVersion(older, False, True),
        "seq_other_schema": StoredVersion(STORED_AT, False, False),
    }


def test_a_vanished_row_whose_entity_is_listed_again_reappears_even_at_an_equal_modified_at() -> (
    None
):
    documents = [
        entity_document("bfi_same", "2026-11-01T10:00:00Z"),
        entity_document("bfi_newer", "2026-11-01T11:00:00Z", archive_reason="Retired"),
        entity_document("bfi_older", "2026-11-01T09:00:00Z"),
        entity_document("bfi_archived", "2026-11-01T10:00:00Z", archive_reason="Retired"),
    ]
    stored = {
        "bfi_same": StoredVersion(STORED_AT, True, True),
        "bfi_newer": StoredVersion(STORED_AT, True, True),
        "bfi_older": StoredVersion(STORED_AT, True, True),
        "bfi_archived": StoredVersion(STORED_AT, True, False),  # Benchling's own archive
    }
    drift = Drift()

    repair = find_drift(documents, stored, drift)

    assert [document["id"] for document in repair] == ["bfi_same", "bfi_newer"]
    assert drift.as_metadata()["reappeared"] == 2
    assert drift.total == 2


@pytest.mark.parametrize(
    ("stored", "unlisted", "max_percent", "over"),
    [
        (20, 0, 10, False),
        (20, 1, 10, False),  # 5 %
        (20, 2, 10, False),  # exactly 10 %: not more than the guard's share
        (20, 3, 10, True),
        (20, 10, 10, True),  # half
        (1, 1, 10, True),  # all of them, however few
        (4, 4, 100, True),  # all of them, whatever the setting
        (4, 3, 100, False),
        (20, 1, 0, True),  # 0 %: any vanishing is held back
    ],
)
def test_the_guard_holds_back_more_than_its_share_and_always_all_of_a_type(
    stored: int, unlisted: int, max_percent: int, over: bool
) -> None:
    vanishing = Vanishing("custom_entity", stored - unlisted, stored, unlisted)

    assert vanishing.over_guard(max_percent) is over

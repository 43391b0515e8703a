import pandas as pd
import pytest

from benchsync_dagster import mapping
from benchsync_dagster.storage import snapshots, synced_data
from benchsync_dagster.typed.catalog import TypedTable, needs_description
from tests.support.documents import FIELD, SCHEMA_ID, entity_document


def test_synced_data_frame_has_the_seed_columns_typed() -> None:
    frame = mapping.synced_data_frame(
        [entity_document("bfi_001", value="hello")], (FIELD,), {"bfi_001": "msg_1"}
    )

    assert list(frame.columns) == list(synced_data.COLUMNS)
    row = frame.iloc[0]
    assert row["benchling_api_id"] == "bfi_001"
    assert row["field_value"] == "hello"
    assert row["schema_id"] == SCHEMA_ID
    assert row["source_event"] == "msg_1"
    assert not row["archived"]
    assert str(frame["modified_at"].dtype) == "datetime64[us, UTC]"
    assert row["modified_at"] == pd.Timestamp("2026-11-01T10:00:00Z")


def test_archived_entity_carries_its_reason() -> None:
    frame = mapping.synced_data_frame(
        [entity_document("bfi_001", archive_reason="Retired")], (FIELD,), {}
    )

    assert frame.iloc[0]["archived"]
    assert frame.iloc[0]["archive_reason"] == "Retired"
    assert pd.isna(frame.iloc[0]["source_event"])


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ({"value": "v", "displayValue": "Shown"}, "Shown"),
        ({"value": 42, "displayValue": None}, "42"),
        ({"value": ["a", "b"], "isMulti": True}, '["a", "b"]'),
        ({"value": None}, None),
    ],
)
def test_field_text_prefers_the_display_value(field: dict[str, object], expected: str) -> None:
    document = {"id": "bfi_1", "fields": {FIELD: field}}

    assert mapping.field_text(document, FIELD) == expected


def test_missing_field_is_none() -> None:
    assert mapping.field_text(entity_document("bfi_1"), "No Such Field") is None


def test_a_field_is_read_under_the_first_of_its_names_the_document_has() -> None:
    document = entity_document("bfi_1", value="kept")  # its field named FIELD
    assert mapping.field_text(document, "Renamed", FIELD) == "kept"
    assert mapping.field_text(document, "Renamed", "Older") is None
    assert mapping.named_field({**document, "fields": ["not", "an", "object"]}, [FIELD]) is None


def test_a_document_without_modified_at_is_rejected_by_name() -> None:
    document = entity_document("bfi_1")
    del document["modifiedAt"]

    with pytest.raises(mapping.EntityDocumentError, match="modifiedAt"):
        mapping.snapshot_frame([document], {})


def test_newest_per_entity_keeps_the_latest_modified_at() -> None:
    older = entity_document("bfi_1", "2026-11-01T10:00:00Z", value="old")
    newer = entity_document("bfi_1", "2026-11-01T10:00:01Z", value="new")

    assert mapping.newest_per_entity([newer, older]) == [newer]
    assert mapping.newest_per_entity([older, newer]) == [newer]


def test_empty_batch_gives_empty_typed_frames() -> None:
    frame = mapping.snapshot_frame([], {})

    assert frame.empty
    assert list(frame.columns) == list(snapshots.COLUMNS)


def test_a_document_without_a_usable_modified_at_is_set_apart_with_the_reason() -> None:
    good = entity_document("bfi_good")
    missing = {**entity_document("bfi_missing"), "modifiedAt": None}
    garbled = {**entity_document("bfi_garbled"), "modifiedAt": "yesterday"}

    kept, refused = mapping.well_formed([good, missing, garbled])

    assert kept == [good]
    assert set(refused) == {"bfi_missing", "bfi_garbled"}
    assert "modifiedAt" in refused["bfi_missing"]


def test_a_document_whose_fields_are_no_object_asks_for_no_description() -> None:
    """What a hostile or broken document holds under ``fields`` is read as no fields at all."""
    document = {**entity_document("bfi_odd"), "fields": ["not", "an", "object"]}

    table = TypedTable(SCHEMA_ID, "custom_entity", "Plasmid", "plasmid$raw", "plasmid")

    assert not needs_description(table, [{**document, "schema": {"name": "Plasmid"}}])

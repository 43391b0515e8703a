"""The descriptions of the kinds benchsync mirrors: held to the bridge's list of recorded events
and to the emulator's services, and able to describe kinds whose ids are UUIDs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from benchling_sdk.benchling import Benchling

from benchling_emulator.entity_types import ENTITY_TYPES
from benchling_emulator.server import EmulatorServer
from benchsync_core.kinds import (
    KINDS,
    UUID_IDS,
    Kind,
    ListFilter,
    kind_of_event,
    kind_of_id,
)
from benchsync_dagster.benchling.fetch import Wanted, fetched_in_chunks, sort_by_type
from benchsync_dagster.benchling.listing import ListFilters, list_arguments, listed

# An assay result's description, as one would be added: UUID ids, no events, a bulk get.
ASSAY_RESULT = Kind(
    name="assay_result",
    service="assay_results",
    bulk_get_service="assay_results",
    ids=UUID_IDS,
    events=frozenset(),
    list_filters=frozenset({ListFilter.SCHEMA_ID}),
)
RESULT_ID = "0f8c2a4e-5b1d-4c3e-9a7f-2d6e8b1c3a5f"


def test_each_kind_is_what_the_emulator_serves_as_that_entity_type() -> None:
    assert set(KINDS) == set(ENTITY_TYPES)
    for name, kind in KINDS.items():
        served = ENTITY_TYPES[name]
        assert kind.ids.prefix == served.id_prefix, name
        sent = {"v2.entity.registered", served.created_event(), served.updated_event()}
        assert kind.events == sent - {None}, name
        # Its own bulk get where the emulator serves one; else the legacy oligos one or a list.
        assert (kind.bulk_get_service == kind.service) == served.has_bulk_get, name


@pytest.mark.parametrize("name", list(KINDS))
def test_each_kind_is_listed_with_every_filter_and_fetched_through_benchling_sdk(
    emulator: EmulatorServer, benchling: Benchling, name: str
) -> None:
    ids = emulator.tenant.create_registered(3, [name])
    schema = emulator.tenant.seed.schema_of_type(name)
    filters = ListFilters(modified_after=datetime(2000, 1, 1, tzinfo=UTC), schema_id=schema.id)

    pages = list(listed(benchling, KINDS[name], filters))
    fetched = list(fetched_in_chunks(benchling, name, ids, max_call_bytes=1 << 20))

    assert sorted(document["id"] for page in pages for document in page) == sorted(ids)
    assert sorted(document["id"] for result in fetched for document in result.documents) == sorted(
        ids
    )
    assert all(not result.unavailable for result in fetched)


def test_an_id_or_an_event_names_a_kind_only_when_no_other_kind_shares_it() -> None:
    assert [kind_of_id(i) for i in ("bfi_1", "prtn_1", "mxt_1", "mol_1")] == [
        KINDS[name] for name in ("custom_entity", "aa_sequence", "mixture", "molecule")
    ]
    assert kind_of_id("seq_1") is None  # four kinds' ids
    assert kind_of_id(RESULT_ID) is None  # no kind has UUIDs yet
    assert kind_of_event("v3.dnaOligo.created") == KINDS["dna_oligo"]
    assert kind_of_event("v2.entity.registered") is None  # every registry kind's


def test_a_kind_with_uuid_ids_is_sorted_by_its_id_once_described(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(KINDS, ASSAY_RESULT.name, ASSAY_RESULT)
    wanted = [Wanted(RESULT_ID), Wanted(RESULT_ID.upper()), Wanted("bfi_1")]

    sorting = sort_by_type(lambda schema_id: None, wanted, {})

    assert sorting.by_type == {"assay_result": [RESULT_ID], "custom_entity": ["bfi_1"]}
    assert list(sorting.unknown) == [Wanted(RESULT_ID.upper())]


def test_a_registry_listing_asks_for_every_filter_the_poll_uses_oldest_first() -> None:
    since = datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=UTC)

    arguments = list_arguments(
        KINDS["mixture"], ListFilters(modified_after=since, schema_id="ts_1")
    )

    assert arguments == {
        "page_size": 100,
        "sort": "modifiedAt:asc",
        "modified_at": "> 2026-11-01T10:00:00.123Z",
        "schema_id": "ts_1",
        "archive_reason": "ANY_ARCHIVED_OR_NOT_ARCHIVED",
    }


def test_a_listing_asking_a_filter_its_kind_lacks_is_refused() -> None:
    with pytest.raises(
        ValueError, match="assay_result's list call has no modifiedAt, archiveReason"
    ):
        list_arguments(ASSAY_RESULT, ListFilters(modified_after=datetime.now(UTC)))
    assert list_arguments(
        ASSAY_RESULT, ListFilters(schema_id="assaysch_1", archived_too=False)
    ) == {
        "page_size": 100,
        "schema_id": "assaysch_1",
    }

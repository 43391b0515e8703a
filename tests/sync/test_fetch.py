"""Which of Benchling's answers dead-letter an entity, which the step retries, and which ids are
never sent to Benchling at all."""

from __future__ import annotations

import pytest
from benchling_sdk.auth.api_key_auth import ApiKeyAuth
from benchling_sdk.benchling import Benchling
from benchling_sdk.errors import BenchlingError

from benchsync_dagster.benchling.client import is_outage
from benchsync_dagster.benchling.fetch import (
    Wanted,
    describe_schema,
    refuses_the_entity,
    sort_by_type,
)
from benchsync_dagster.typed.catalog import SchemaDefinition


def answer(status: int) -> BenchlingError:
    return BenchlingError(status_code=status, headers={}, json=None, content=None, parsed=None)


@pytest.mark.parametrize("status", [400, 403, 404, 410, 422])
def test_an_answer_about_the_entity_refuses_it(status: int) -> None:
    assert refuses_the_entity(answer(status))


@pytest.mark.parametrize("status", [401, 408, 409, 423, 425, 429, 500, 503])
def test_an_answer_about_now_is_retried_not_dead_lettered(status: int) -> None:
    assert not refuses_the_entity(answer(status))


@pytest.mark.parametrize(
    ("status", "outage"), [(502, True), (503, True), (504, True), (500, False)]
)
def test_only_gateway_errors_and_lost_connections_are_outages(status: int, outage: bool) -> None:
    try:
        raise RuntimeError("the step failed") from answer(status)
    except RuntimeError as error:
        assert is_outage(error) is outage


def no_schema(schema_id: str) -> SchemaDefinition | None:
    raise AssertionError(f"asked Benchling about schema {schema_id!r}")


NOT_IDS = [
    "bfi_1/../../dna-sequences/seq_2",  # another entity's path
    "bfi_1#top",  # a fragment, leaving the path of bfi_1
    "bfi_1,bfi_2",  # two ids in a bulk get
    "seq_\x07",  # no client sends a URL with it
    " bfi_1",
    "bfi_" + "a" * 70_000,  # longer than any URL
    "BFI_1",
    "bfi_",
    "etr_1",  # a notebook entry's: no kind benchsync mirrors has ids like it
    "0f8c2a4e-5b1d-4c3e-9a7f-2d6e8b1c3a5f",  # a UUID, as assay results have: none yet
]


def test_what_is_no_id_of_a_mirrored_kind_is_set_apart_without_asking_benchling() -> None:
    wanted = [Wanted(text, "v2.entity.registered", "ts_1") for text in NOT_IDS]

    sorting = sort_by_type(no_schema, wanted, {})

    assert sorting.by_type == {}
    assert [entity.entity_id for entity in sorting.unknown] == NOT_IDS
    reasons = list(sorting.unknown.values())
    assert all(reason.endswith("is no id of a kind benchsync mirrors") for reason in reasons)
    assert len(reasons[NOT_IDS.index("bfi_" + "a" * 70_000)]) < 200  # a long one is cut short


def test_a_schema_that_is_no_id_is_never_described() -> None:
    wanted = [Wanted("seq_abc", "v2.entity.registered", "../custom-entities/bfi_1")]

    sorting = sort_by_type(no_schema, wanted, {})

    assert (sorting.by_type, list(sorting.unknown)) == ({}, wanted)
    offline = Benchling("https://tenant.invalid", auth_method=ApiKeyAuth("key"))
    assert describe_schema(offline, "ts_" + "a" * 70_000) is None


def test_an_id_prefix_of_one_type_outweighs_the_type_its_event_names() -> None:
    wanted = [
        Wanted("bfi_1", "v3.dnaSequence.updated"),
        Wanted("prtn_1", "v3.rnaOligo.created"),
        Wanted("seq_1", "v3.rnaSequence.updated"),  # a prefix four types share
    ]

    sorting = sort_by_type(no_schema, wanted, {})

    assert sorting.by_type == {
        "custom_entity": ["bfi_1"],
        "aa_sequence": ["prtn_1"],
        "rna_sequence": ["seq_1"],
    }
    assert sorting.unknown == {}


def test_events_disagreeing_on_a_sequences_type_are_each_sorted_by_their_own() -> None:
    genuine = Wanted("seq_1", "v3.dnaSequence.updated")
    forged = Wanted("seq_1", "v3.rnaSequence.updated")

    sorting = sort_by_type(no_schema, [genuine, forged], {})

    assert sorting.types == {genuine: "dna_sequence", forged: "rna_sequence"}
    assert sorting.by_type == {"dna_sequence": ["seq_1"], "rna_sequence": ["seq_1"]}


def test_a_sequences_event_naming_a_kind_with_other_ids_gives_way_to_its_schema() -> None:
    wanted = Wanted("seq_1", "v3.customEntity.updated", "ts_dna")

    sorting = sort_by_type(no_schema, [wanted], {"ts_dna": "dna_sequence"})

    assert sorting.types == {wanted: "dna_sequence"}

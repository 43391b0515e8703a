"""The registry's eight entity types through the real benchling-sdk: each type's own endpoints,
the bulk gets Benchling has (and no others), and exactly the events Benchling sends."""

from __future__ import annotations

import json
import time

import pytest
from benchling_sdk.benchling import Benchling
from benchling_sdk.errors import BenchlingError
from benchling_sdk.models import (
    AaSequenceUpdate,
    DnaOligo,
    DnaSequenceCreate,
    EntityArchiveReason,
    MoleculesArchiveReason,
)

from benchling_emulator.entities import EntityQuery
from benchling_emulator.entity_types import ENTITY_TYPES
from benchling_emulator.server import EmulatorServer
from tests.support.emulator import MakeEmulator, WebhookReceiver, benchling_client

# The SDK service of each type, and whether it has a bulk get of its own.
SERVICES = {
    "custom_entity": ("custom_entities", True),
    "dna_sequence": ("dna_sequences", True),
    "rna_sequence": ("rna_sequences", True),
    "dna_oligo": ("dna_oligos", False),
    "rna_oligo": ("rna_oligos", False),
    "aa_sequence": ("aa_sequences", True),
    "mixture": ("mixtures", False),
    "molecule": ("molecules", False),
}


def register(emulator: EmulatorServer, entity_type: str, count: int) -> list[str]:
    return emulator.tenant.create_registered(count, [entity_type])


@pytest.mark.parametrize("entity_type", list(ENTITY_TYPES))
def test_each_type_is_served_by_its_own_service(
    emulator: EmulatorServer, benchling: Benchling, entity_type: str
) -> None:
    service_name, has_bulk_get = SERVICES[entity_type]
    service = getattr(benchling, service_name)
    ids = register(emulator, entity_type, 3)
    schema = emulator.tenant.seed.schema_of_type(entity_type)

    one = service.get_by_id(ids[0])
    listed = [e.id for page in service.list(ids=ids) for e in page]
    by_schema = [e.id for page in service.list(schema_id=schema.id) for e in page]

    assert one.id == ids[0] and one.id.startswith(ENTITY_TYPES[entity_type].id_prefix)
    assert one.schema.id == schema.id and one.registry_id and one.entity_registry_id
    assert sorted(listed) == sorted(ids) and sorted(by_schema) == sorted(ids)
    assert benchling.schemas.get_entity_schema_by_id(schema.id).type.value == entity_type
    if has_bulk_get:
        assert sorted(e.id for e in service.bulk_get(ids)) == sorted(ids)
    # An id of another type is not found by this type's service.
    other = "molecule" if entity_type != "molecule" else "mixture"
    with pytest.raises(BenchlingError) as refused:
        service.get_by_id(register(emulator, other, 1)[0])
    assert refused.value.status_code == 404

    reason = (
        MoleculesArchiveReason.RETIRED if entity_type == "molecule" else EntityArchiveReason.RETIRED
    )
    service.archive(ids[:1], reason)
    archived = service.get_by_id(ids[0]).archive_record.reason
    assert getattr(archived, "value", archived) == "Retired"
    not_archived = [e.id for page in service.list(ids=ids[1:]) for e in page]
    assert sorted(not_archived) == sorted(ids[1:])
    service.unarchive(ids[:1])
    assert service.get_by_id(ids[0]).archive_record is None


def test_oligos_come_from_the_legacy_bulk_get_parsed_strictly(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    ids = register(emulator, "dna_oligo", 2) + register(emulator, "rna_oligo", 2)

    oligos = benchling.oligos.bulk_get(ids) or []

    # The SDK parses each strictly (as DnaOligo first): an incomplete one would be UnknownType.
    assert sorted(o.id for o in oligos) == sorted(ids)
    assert all(isinstance(oligo, DnaOligo) for oligo in oligos)
    assert {getattr(o.nucleotide_type, "value", o.nucleotide_type) for o in oligos} == {
        "DNA",
        "RNA",
    }


def test_listing_mixtures_by_id_names_the_invalid_ids(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    ids = register(emulator, "mixture", 2)
    molecule = register(emulator, "molecule", 1)[0]

    with pytest.raises(BenchlingError) as refused:
        list(benchling.mixtures.list(ids=[*ids, "mxt_doesNotExist", molecule]))

    assert refused.value.status_code == 400
    invalid = json.loads(refused.value.content or b"{}")["invalidIds"]
    assert invalid == sorted(["mxt_doesNotExist", molecule])


def test_types_send_exactly_the_events_benchling_sends(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook_urls=(webhook_receiver.url,), webhook_workers=1)
    benchling = benchling_client(emulator)
    plasmid = emulator.tenant.seed.schema_of_type("dna_sequence")
    created = benchling.dna_sequences.create(
        DnaSequenceCreate(name="pUC19", schema_id=plasmid.id, bases="ATGC" * 10, is_circular=True)
    )
    (protein,) = register(emulator, "aa_sequence", 1)
    benchling.aa_sequences.update(protein, AaSequenceUpdate(amino_acids="MKT" * 5))

    webhooks = webhook_receiver.wait_for(2)
    time.sleep(0.5)  # nothing else may follow: the AA sequence's edit sends no event

    messages = [json.loads(w.body)["message"] for w in webhook_receiver.received]
    assert len(webhooks) == len(messages) == 2
    assert [(m["type"], m["resourceId"]) for m in messages] == [
        ("v3.dnaSequence.created", created.id),
        ("v2.entity.registered", protein),
    ]
    assert created.length == 40 and created.is_circular
    assert benchling.aa_sequences.get_by_id(protein).amino_acids == "MKT" * 5


def test_register_takes_a_mix_of_types(emulator: EmulatorServer) -> None:
    emulator.tenant.create_registered(16, list(ENTITY_TYPES))

    counts = {
        name: emulator.tenant.list_entities(EntityQuery(types=frozenset({name})), 100, None).total
        for name in ENTITY_TYPES
    }
    assert counts == dict.fromkeys(ENTITY_TYPES, 2)

"""The registry's eight entity types as Benchling's API serves them: where each lives, what its
JSON holds beside what every entity has, and which events it sends (benchling-api-client 2.0's
models and OpenAPI file)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchling_emulator.errors import bad_request

Content = dict[str, Any]


def _bases(rng: random.Random, alphabet: str, low: int, high: int) -> str:
    return "".join(rng.choices(alphabet, k=rng.randint(low, high)))


def _sequence(bases: str, is_circular: bool = False) -> Content:
    return {
        "bases": bases,
        "isCircular": is_circular,
        "length": len(bases),
        "annotations": [],
        "parts": [],
        "primers": [],
        "translations": [],
    }


def _dna_sequence(bases: str, is_circular: bool = False) -> Content:
    return {**_sequence(bases, is_circular), "transcriptions": [], "dnaAlignmentIds": []}


def _helm(bases: str, sugar: str) -> str:
    """The bases in HELM, as Benchling writes it: ``RNA1{d(A)p.d(C)p}$$$$V2.0`` (``d``: DNA's
    deoxyribose, ``r``: RNA's ribose)."""
    return "RNA1{" + ".".join(f"{sugar}({base})p" for base in bases) + "}$$$$V2.0"


def _rna_sequence(bases: str, is_circular: bool = False) -> Content:
    notation = {"customNotation": None, "customNotationName": None, "helm": _helm(bases, "r")}
    return {**_sequence(bases, is_circular), "alignmentIds": [], **notation}


def _oligo(bases: str, nucleotide_type: str) -> Content:
    # The legacy oligos bulk get parses strictly: every one of these keys must be there.
    return {
        "bases": bases,
        "length": len(bases),
        "annotations": [],
        "customNotation": None,
        "customNotationName": None,
        "helm": _helm(bases, "d" if nucleotide_type == "DNA" else "r"),
        "nucleotideType": nucleotide_type,
    }


def _aa_sequence(amino_acids: str) -> Content:
    return {"aminoAcids": amino_acids, "length": len(amino_acids), "annotations": []}


def _mixture(units: str, amount: str, ingredients: list[Any]) -> Content:
    return {
        "units": units,
        "amount": amount,
        "ingredients": ingredients,
        "allowMeasuredIngredients": False,
    }


def _molecule(smiles: str) -> Content:
    return {"canonicalizedSmiles": smiles, "originalSmiles": smiles}


_AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
_SMILES = ("CCO", "CC(=O)O", "c1ccccc1", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "O=C=O", "CCN(CC)CC")


def _required(request: dict[str, Any], *keys: str) -> list[Any]:
    missing = [key for key in keys if request.get(key) in (None, "")]
    if missing:
        raise bad_request(f"{', '.join(missing)} required")
    return [request[key] for key in keys]


def _mixture_from(request: dict[str, Any]) -> Content:
    units, ingredients = _required(request, "units", "ingredients")
    return _mixture(str(units), str(request.get("amount") or "0"), list(ingredients))


def _molecule_from(request: dict[str, Any]) -> Content:
    (structure,) = _required(request, "chemicalStructure")
    if not isinstance(structure, dict) or not structure.get("value"):
        raise bad_request("chemicalStructure needs a structureFormat and a value")
    return _molecule(str(structure["value"]))


@dataclass(frozen=True)
class EntityType:
    name: str  # EntitySchema.type
    kind: str  # as error messages name it
    id_prefix: str
    path: str  # the REST collection under /api/v2
    list_key: str  # the key of list and bulk-get answers
    ids_key: str  # the bulk get's query parameter, and the archive body's key
    has_bulk_get: bool
    event_name: str | None  # v3.<event_name>.created/updated; None: Benchling sends neither
    has_url: bool  # whether the response model has ``url`` beside ``webURL``
    archival_batch_ids: bool  # whether the archival change answer has ``batchIds``
    sample: Callable[[random.Random], Content]  # what a new entity of the type holds
    from_request: Callable[[dict[str, Any]], Content]  # the same, from a create request

    def created_event(self) -> str | None:
        return f"v3.{self.event_name}.created" if self.event_name else None

    def updated_event(self) -> str | None:
        return f"v3.{self.event_name}.updated" if self.event_name else None


ENTITY_TYPES: dict[str, EntityType] = {
    entity_type.name: entity_type
    for entity_type in (
        EntityType(
            name="custom_entity",
            kind="Custom entity",
            id_prefix="bfi_",
            path="custom-entities",
            list_key="customEntities",
            ids_key="customEntityIds",
            has_bulk_get=True,
            event_name="customEntity",
            has_url=True,
            archival_batch_ids=True,
            sample=lambda rng: {},
            from_request=lambda request: {},
        ),
        EntityType(
            name="dna_sequence",
            kind="DNA sequence",
            id_prefix="seq_",
            path="dna-sequences",
            list_key="dnaSequences",
            ids_key="dnaSequenceIds",
            has_bulk_get=True,
            event_name="dnaSequence",
            has_url=True,
            archival_batch_ids=True,
            sample=lambda rng: _dna_sequence(_bases(rng, "ACGT", 30, 90)),
            from_request=lambda request: _dna_sequence(*_required(request, "bases", "isCircular")),
        ),
        EntityType(
            name="rna_sequence",
            kind="RNA sequence",
            id_prefix="seq_",
            path="rna-sequences",
            list_key="rnaSequences",
            ids_key="rnaSequenceIds",
            has_bulk_get=True,
            event_name="rnaSequence",
            has_url=True,
            archival_batch_ids=False,
            sample=lambda rng: _rna_sequence(_bases(rng, "ACGU", 30, 90)),
            from_request=lambda request: _rna_sequence(str(request.get("bases") or "")),
        ),
        EntityType(
            name="dna_oligo",
            kind="DNA oligo",
            id_prefix="seq_",
            path="dna-oligos",
            list_key="dnaOligos",
            ids_key="dnaOligoIds",
            has_bulk_get=False,
            event_name="dnaOligo",
            has_url=False,
            archival_batch_ids=True,
            sample=lambda rng: _oligo(_bases(rng, "ACGT", 18, 30), "DNA"),
            from_request=lambda request: _oligo(str(request.get("bases") or ""), "DNA"),
        ),
        EntityType(
            name="rna_oligo",
            kind="RNA oligo",
            id_prefix="seq_",
            path="rna-oligos",
            list_key="rnaOligos",
            ids_key="rnaOligoIds",
            has_bulk_get=False,
            event_name="rnaOligo",
            has_url=False,
            archival_batch_ids=True,
            sample=lambda rng: _oligo(_bases(rng, "ACGU", 18, 30), "RNA"),
            from_request=lambda request: _oligo(str(request.get("bases") or ""), "RNA"),
        ),
        EntityType(
            name="aa_sequence",
            kind="AA sequence",
            id_prefix="prtn_",
            path="aa-sequences",
            list_key="aaSequences",
            ids_key="aaSequenceIds",
            has_bulk_get=True,
            event_name=None,
            has_url=True,
            archival_batch_ids=True,
            sample=lambda rng: _aa_sequence(_bases(rng, _AMINO_ACIDS, 40, 120)),
            from_request=lambda request: _aa_sequence(*_required(request, "aminoAcids")),
        ),
        EntityType(
            name="mixture",
            kind="Mixture",
            id_prefix="mxt_",
            path="mixtures",
            list_key="mixtures",
            ids_key="mixtureIds",
            has_bulk_get=False,
            event_name=None,
            has_url=False,
            archival_batch_ids=False,
            sample=lambda rng: _mixture("mL", str(rng.randint(1, 500)), []),
            from_request=_mixture_from,
        ),
        EntityType(
            name="molecule",
            kind="Molecule",
            id_prefix="mol_",
            path="molecules",
            list_key="molecules",
            ids_key="moleculeIds",
            has_bulk_get=False,
            event_name=None,
            has_url=False,
            archival_batch_ids=True,
            sample=lambda rng: _molecule(rng.choice(_SMILES)),
            from_request=_molecule_from,
        ),
    )
}
CUSTOM_ENTITY = ENTITY_TYPES["custom_entity"]


def entity_type(name: str) -> EntityType:
    found = ENTITY_TYPES.get(name)
    if found is None:
        raise bad_request(f"unknown entity type {name!r}; one of {', '.join(ENTITY_TYPES)}")
    return found

"""What a fresh emulated tenant holds: one registry, one schema, and the App's configuration.

The configuration answers the seed app's manifest: "Synced Schema" links the schema, and
"Synced Schema" → "Synced Field Data" links its text field.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from benchling_emulator.clock import TenantClock, isoformat
from benchling_emulator.schemas import (
    ENTITY_LINK_TYPES,
    DropdownOption,
    EntitySchema,
    FieldDefinition,
)

SYNCED_SCHEMA_PATH = ("Synced Schema",)
SYNCED_FIELD_PATH = ("Synced Schema", "Synced Field Data")
SYNCED_TEXT_FIELD = "Description"

_WORDS = ("alpha", "beta", "gamma", "delta", "kappa", "omega", "sigma", "theta", "zeta")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Registry:
    id: str
    name: str
    modified_at: datetime

    def to_json(self) -> dict[str, Any]:
        owner = {"id": "ent_emulatorOrg", "handle": "emulator", "name": "Emulator Org"}
        return {
            "id": self.id,
            "name": self.name,
            "owner": owner,
            "modifiedAt": isoformat(self.modified_at),
        }


@dataclass(frozen=True)
class ConfigItem:
    id: str
    path: tuple[str, ...]
    type: str  # entity_schema, field, text, ...
    linked_id: str
    linked_name: str
    created_at: datetime
    subtype: str | None = None
    description: str = ""  # the manifest's description of the item (a string, never null)

    def to_json(self, app_id: str, base_url: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.id,
            "apiURL": f"{base_url}/api/v2/app-configuration-items/{self.id}",
            "app": {"id": app_id},
            "createdAt": isoformat(self.created_at),
            "modifiedAt": isoformat(self.created_at),
            "path": list(self.path),
            "type": self.type,
            "value": self.linked_id,
            "linkedResource": {"id": self.linked_id, "name": self.linked_name},
            "description": self.description,
            "requiredConfig": True,
        }
        if self.subtype is not None:
            item["subtype"] = self.subtype
        return item


@dataclass(frozen=True)
class TenantSeed:
    registry: Registry
    schema: EntitySchema  # the custom entity schema the App's configuration names
    config_items: tuple[ConfigItem, ...]
    folder_id: str
    # One schema of each other entity type, by type.
    other_schemas: tuple[EntitySchema, ...] = ()

    def schema_of_type(self, entity_type: str) -> EntitySchema:
        for schema in (self.schema, *self.other_schemas):
            if schema.type == entity_type:
                return schema
        raise KeyError(entity_type)


# A schema per other entity type: (type, id, name, prefix), each with a few common fields.
_OTHER_SCHEMAS = (
    ("dna_sequence", "ts_emuPlasmid", "Emulated Plasmid", "PLS"),
    ("rna_sequence", "ts_emuTranscript", "Emulated Transcript", "TRN"),
    ("dna_oligo", "ts_emuPrimer", "Emulated Primer", "PRM"),
    ("rna_oligo", "ts_emuGuide", "Emulated Guide RNA", "GRN"),
    ("aa_sequence", "ts_emuProtein", "Emulated Protein", "PRT"),
    ("mixture", "ts_emuBuffer", "Emulated Buffer", "BUF"),
    ("molecule", "ts_emuCompound", "Emulated Compound", "CMP"),
)


def _other_schema(
    entity_type: str, schema_id: str, name: str, prefix: str, registry_id: str, now: datetime
) -> EntitySchema:
    fields = (
        FieldDefinition(f"{schema_id}_description", SYNCED_TEXT_FIELD, "text"),
        FieldDefinition(f"{schema_id}_quantity", "Quantity", "float"),
        FieldDefinition(f"{schema_id}_batch", "Batch Number", "integer"),
        FieldDefinition(f"{schema_id}_released", "Released", "boolean"),
    )
    return EntitySchema(schema_id, name, prefix, registry_id, fields, now, type=entity_type)


def seeded_tenant(clock: TenantClock) -> TenantSeed:
    registry = Registry("src_emulator01", "Emulator Registry", clock.now())
    schema_id = "ts_emulator01"
    fields = (
        FieldDefinition("tsf_description", SYNCED_TEXT_FIELD, "text", is_required=True),
        FieldDefinition("tsf_notes", "Notes", "long_text"),
        FieldDefinition("tsf_passage", "Passage Number", "integer"),
        FieldDefinition("tsf_concentration", "Concentration", "float"),
        FieldDefinition("tsf_validated", "Validated", "boolean"),
        FieldDefinition(
            "tsf_status",
            "Status",
            "dropdown",
            dropdown_id="sfs_status",
            options=(
                DropdownOption("sfso_active", "Active"),
                DropdownOption("sfso_pending", "Pending"),
                DropdownOption("sfso_retired", "Retired"),
            ),
        ),
        FieldDefinition("tsf_parent", "Parent", "entity_link", link_schema_id=schema_id),
        FieldDefinition("tsf_prepared", "Prepared At", "datetime"),
        FieldDefinition("tsf_received", "Received On", "date"),
        FieldDefinition("tsf_tags", "Tags", "text", is_multi=True),
    )
    schema = EntitySchema(schema_id, "Emulated Sample", "EMU", registry.id, fields, clock.now())
    config_items = (
        ConfigItem(
            "aci_syncedschema",
            SYNCED_SCHEMA_PATH,
            "entity_schema",
            schema.id,
            schema.name,
            clock.now(),
            subtype="custom_entity",
            description="The custom entity schema whose entities are synced into"
            " synced_benchling_data.",
        ),
        ConfigItem(
            "aci_syncedfield",
            SYNCED_FIELD_PATH,
            "field",
            fields[0].id,
            fields[0].name,
            clock.now(),
            description="The text field whose value fills synced_benchling_data.field_value.",
        ),
    )
    others = tuple(
        _other_schema(entity_type, schema_id, name, prefix, registry.id, clock.now())
        for entity_type, schema_id, name, prefix in _OTHER_SCHEMAS
    )
    return TenantSeed(registry, schema, config_items, "lib_emulator01", others)


def sample_field_values(
    schema: EntitySchema, rng: random.Random, number: int, link_targets: list[str]
) -> dict[str, Any]:
    """Varied values for the fields of ``schema``, as an API client writes them (``{"Name":
    {"value": ...}}``: a bare JSON field's dict would read as the wrapper); a field with
    nothing to sample (a link with no ``link_targets``, a link to what the emulator does not
    hold) is left empty."""
    values: dict[str, Any] = {}
    for field in schema.fields:
        sampler = _sampler(field, rng, number, link_targets)
        if sampler is None:
            continue
        count = rng.randint(1, 3) if field.is_multi else 1
        samples = [sampler() for _ in range(count)]
        values[field.name] = {"value": samples if field.is_multi else samples[0]}
    return values


def _sampler(
    field: FieldDefinition, rng: random.Random, number: int, link_targets: list[str]
) -> Callable[[], Any] | None:
    if field.type in ENTITY_LINK_TYPES:
        return (lambda: rng.choice(link_targets)) if link_targets else None

    def moment() -> datetime:
        return _EPOCH + timedelta(seconds=rng.randrange(365 * 24 * 3600))

    samplers: dict[str, Callable[[], Any]] = {
        "text": lambda: f"{rng.choice(_WORDS)}-{number}",
        "long_text": lambda: " ".join(rng.choices(_WORDS, k=8)),
        "integer": lambda: rng.randint(1, 40),
        "float": lambda: round(rng.uniform(0.1, 100.0), 3),
        "boolean": lambda: rng.random() < 0.5,
        "dropdown": lambda: rng.choice(field.options).id,
        "datetime": lambda: moment().isoformat(),
        "date": lambda: moment().date().isoformat(),
        "json": lambda: {"lot": number, "grade": rng.choice(_WORDS), "ok": rng.random() < 0.5},
        "blob_link": lambda: "blob_" + "".join(rng.choices(string.ascii_letters, k=10)),
    }
    return samplers.get(field.type)

"""Schemas changed while the emulator runs, as a Benchling admin changes them
(``PUT /_emulator/schemas/<id>``), seen through the real benchling-sdk: a new schema of every
field type, and a field renamed, added, retyped or removed under existing entities."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from benchling_api_client.v2.stable.models.custom_entity import CustomEntity as CustomEntityModel
from benchling_api_client.v2.stable.models.entity_schema import EntitySchema as EntitySchemaModel
from benchling_sdk.benchling import Benchling
from benchling_sdk.helpers.serialization_helpers import fields
from benchling_sdk.models import (
    CustomEntityCreate,
    CustomEntityUpdate,
    FieldValue,
    NamingStrategy,
)

from benchling_emulator.schemas import ENTITY_LINK_TYPES, FIELD_TYPES
from benchling_emulator.server import EmulatorServer
from tests.support.emulator import MakeEmulator, WebhookReceiver, benchling_client

SCHEMA_ID = "ts_changing"
STATUS_OPTIONS = [{"id": "sfso_x_open", "name": "Open"}, {"id": "sfso_x_closed", "name": "Closed"}]
# Types whose fields registration leaves empty: links to what the emulator does not hold.
UNSAMPLED = {t for t in FIELD_TYPES if t.endswith("_link")} - ENTITY_LINK_TYPES - {"blob_link"}


def _put_schema(emulator: EmulatorServer, body: Any, schema_id: str = SCHEMA_ID) -> httpx.Response:
    return httpx.put(f"{emulator.base_url}/_emulator/schemas/{schema_id}", json=body)


def _define(emulator: EmulatorServer, body: dict[str, Any]) -> dict[str, Any]:
    answer = _put_schema(emulator, body)
    assert answer.status_code == 200, answer.text
    defined: dict[str, Any] = answer.json()
    return defined


def _register(emulator: EmulatorServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{emulator.base_url}/_emulator/register", json=body)


def _every_type_field(field_type: str) -> dict[str, Any]:
    field: dict[str, Any] = {"id": f"tsf_all_{field_type}", "name": f"All {field_type}"}
    field["type"] = field_type
    if field_type == "dropdown":
        field["options"] = STATUS_OPTIONS
    return field


def _create(benchling: Benchling, emulator: EmulatorServer, values: dict[str, Any]) -> str:
    seed = emulator.tenant.seed
    created = benchling.custom_entities.create(
        CustomEntityCreate(
            name="Changing",
            schema_id=SCHEMA_ID,
            folder_id=seed.folder_id,
            registry_id=seed.registry.id,
            naming_strategy=NamingStrategy.NEW_IDS,
            fields=fields({name: {"value": value} for name, value in values.items()}),
        )
    )
    return created.id


def _values(benchling: Benchling, entity_id: str) -> dict[str, Any]:
    entity = benchling.custom_entities.get_by_id(entity_id)
    return {name: field.value for name, field in entity.fields.additional_properties.items()}


BASE_FIELDS: list[dict[str, Any]] = [
    {"id": "tsf_c_label", "name": "Label", "type": "text"},
    {"id": "tsf_c_count", "name": "Count", "type": "integer"},
    {"id": "tsf_c_status", "name": "Status", "type": "dropdown", "options": STATUS_OPTIONS},
    {"id": "tsf_c_note", "name": "Note", "type": "text"},
]


def test_a_new_schema_of_every_field_type_is_served_registered_and_read_back(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    linked = emulator.tenant.create_registered(2)  # something for the links to name
    every = [_every_type_field(t) for t in sorted(FIELD_TYPES)]
    every.append({"id": "tsf_all_tags", "name": "All tags", "type": "text", "isMulti": True})
    body = {"name": "Everything Sample", "fields": every}

    defined = _define(emulator, body)
    answer = _register(emulator, {"count": 3, "schema_id": SCHEMA_ID})

    assert defined["prefix"] == "EVE" and defined["type"] == "custom_entity"
    EntitySchemaModel.from_dict(defined, strict=True)
    schema = benchling.schemas.get_entity_schema_by_id(SCHEMA_ID)
    assert [(d.id, d.name) for d in schema.field_definitions] == [  # type: ignore[union-attr]
        (field["id"], field["name"]) for field in every
    ]
    listed = [s.id for page in benchling.schemas.list_entity_schemas() for s in page]
    assert SCHEMA_ID in listed
    assert answer.status_code == 200
    ids = answer.json()["ids"]
    assert len(ids) == 3
    for entity_id in ids:
        entity = benchling.custom_entities.get_by_id(entity_id)
        CustomEntityModel.from_dict(emulator.tenant.get_entity(entity_id), strict=True)
        assert entity.schema is not None and entity.schema.id == SCHEMA_ID
        assert (entity.entity_registry_id or "").startswith("EVE")
        shown = entity.fields.additional_properties
        for field_type in FIELD_TYPES:
            field = shown[f"All {field_type}"]
            assert str(field.type) == field_type
            assert (field.value is None) == (field_type in UNSAMPLED), field_type
        assert shown["All dropdown"].display_value in {"Open", "Closed"}
        payload_value = shown["All json"].value
        assert isinstance(payload_value, FieldValue)  # the SDK's model of a JSON object
        assert payload_value.to_dict().keys() == {"lot", "grade", "ok"}
        payload = emulator.tenant.get_entity(entity_id)["fields"]["All json"]
        assert json.loads(payload["displayValue"]) == payload["value"]
        assert str(shown["All blob_link"].value).startswith("blob_")
        assert isinstance(shown["All tags"].value, list)
        for field_type in ENTITY_LINK_TYPES:
            link = shown[f"All {field_type}"]
            target = emulator.tenant.get_entity(str(link.value))
            assert target["id"] in [*linked, *ids] and link.display_value == target["name"]


def test_entities_of_a_defined_schema_are_written_through_the_sdk(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    [parent] = emulator.tenant.create_registered(1)
    every = [_every_type_field(t) for t in ("json", "blob_link", "entity_link", "molecule_link")]
    _define(emulator, {"name": "Written", "fields": [*BASE_FIELDS, *every]})

    entity_id = _create(
        benchling,
        emulator,
        {"Label": "first", "Status": "Open", "All json": {"a": [1, 2]}, "All entity_link": parent},
    )
    benchling.custom_entities.update(
        entity_id,
        CustomEntityUpdate(
            fields=fields({"All blob_link": {"value": "blob_made"}, "Count": {"value": 7}})
        ),
    )

    values = _values(benchling, entity_id)
    assert values["Label"] == "first" and values["Count"] == 7
    assert values["Status"] == "sfso_x_open"
    assert values["All json"].to_dict() == {"a": [1, 2]}
    assert values["All blob_link"] == "blob_made"
    assert values["All entity_link"] == parent
    assert values["All molecule_link"] is None
    shown = benchling.custom_entities.get_by_id(entity_id).fields
    assert shown["All entity_link"].display_value == emulator.tenant.get_entity(parent)["name"]
    assert shown["All blob_link"].display_value == "blob_made"  # no such entity: the id


def test_renaming_a_field_keeps_its_value_and_definition_id(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    before = _define(emulator, {"name": "Changing", "fields": BASE_FIELDS})
    entity_id = _create(benchling, emulator, {"Label": "kept", "Count": 3})
    modified_at = benchling.custom_entities.get_by_id(entity_id).modified_at
    renamed = [{**BASE_FIELDS[0], "name": "Title"}, *BASE_FIELDS[1:]]

    after = _define(emulator, {"name": "Changing", "fields": renamed})

    values = _values(benchling, entity_id)
    assert values["Title"] == "kept" and "Label" not in values
    assert values["Count"] == 3
    schema = benchling.schemas.get_entity_schema_by_id(SCHEMA_ID)
    title = next(d for d in schema.field_definitions if d.name == "Title")  # type: ignore[union-attr]
    assert title.id == "tsf_c_label"  # type: ignore[union-attr]
    assert after["modifiedAt"] > before["modifiedAt"]
    # As in Benchling, a schema's edit changes none of its entities.
    assert benchling.custom_entities.get_by_id(entity_id).modified_at == modified_at
    benchling.custom_entities.update(
        entity_id, CustomEntityUpdate(fields=fields({"Title": {"value": "written again"}}))
    )
    assert _values(benchling, entity_id)["Title"] == "written again"


def test_adding_a_field_leaves_existing_entities_empty_there_until_written(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    _define(emulator, {"name": "Changing", "fields": BASE_FIELDS})
    entity_id = _create(benchling, emulator, {"Label": "old"})
    added = {"id": "tsf_c_weight", "name": "Weight", "type": "float", "isRequired": True}

    _define(emulator, {"name": "Changing", "fields": [*BASE_FIELDS, added]})

    assert _values(benchling, entity_id) == {
        "Label": "old",
        "Count": None,
        "Status": None,
        "Note": None,
        "Weight": None,
    }
    benchling.custom_entities.update(
        entity_id, CustomEntityUpdate(fields=fields({"Weight": {"value": 2.5}}))
    )
    assert _values(benchling, entity_id)["Weight"] == 2.5
    [registered] = _register(emulator, {"count": 1, "schema_id": SCHEMA_ID}).json()["ids"]
    assert isinstance(_values(benchling, registered)["Weight"], float)


def test_changing_or_removing_fields_keeps_only_values_the_new_definitions_accept(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    _define(emulator, {"name": "Changing", "fields": BASE_FIELDS})
    closed = _create(benchling, emulator, {"Label": "12", "Count": 4, "Status": "Closed"})
    opened = _create(benchling, emulator, {"Status": "Open", "Note": "gone"})
    changed = [
        {"id": "tsf_c_label", "name": "Label", "type": "integer"},  # "12" is no integer
        {"id": "tsf_c_count", "name": "Count", "type": "float"},  # 4 is a float too
        {"id": "tsf_c_status", "name": "Status", "type": "dropdown", "options": STATUS_OPTIONS[1:]},
    ]  # and Note removed

    _define(emulator, {"name": "Changing", "fields": changed})

    assert _values(benchling, closed) == {"Label": None, "Count": 4.0, "Status": "sfso_x_closed"}
    assert _values(benchling, opened) == {"Label": None, "Count": None, "Status": None}
    # The field's new type is what the API takes now.
    benchling.custom_entities.update(
        closed, CustomEntityUpdate(fields=fields({"Label": {"value": 12}}))
    )
    assert _values(benchling, closed)["Label"] == 12


def test_replacing_the_seeded_schema_changes_what_is_registered_and_the_configuration(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    seed_schema = emulator.tenant.seed.schema
    [before] = emulator.tenant.create_registered(1)
    values = _values(benchling, before)
    kept = [
        {"id": "tsf_description", "name": "Summary", "type": "text", "isRequired": True},
        {"id": "tsf_passage", "name": "Passage Number", "type": "integer"},
    ]

    _put_schema(emulator, {"name": "Emulated Sample", "fields": kept}, seed_schema.id)
    [after] = _register(emulator, {"count": 1}).json()["ids"]

    assert _values(benchling, before) == {
        "Summary": values["Description"],
        "Passage Number": values["Passage Number"],
    }
    assert set(_values(benchling, after)) == {"Summary", "Passage Number"}
    items = emulator.tenant.config_items(emulator.settings.app_id)
    assert [item.linked_name for item in items] == ["Emulated Sample", "Summary"]


def test_a_schema_of_another_type_registers_with_its_webhooks(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook_urls=(webhook_receiver.url,))
    fields_ = [{"id": "tsf_v_host", "name": "Host", "type": "text"}]
    _define(
        emulator, {"name": "Vector", "type": "dna_sequence", "prefix": "VEC", "fields": fields_}
    )

    ids = _register(emulator, {"count": 2, "schema_id": SCHEMA_ID}).json()["ids"]

    messages = [json.loads(w.body)["message"] for w in webhook_receiver.wait_for(2)]
    assert sorted(m["resourceId"] for m in messages) == sorted(ids)
    assert {m["type"] for m in messages} == {"v2.entity.registered"}
    assert all(m["schema"] == {"id": SCHEMA_ID} for m in messages)
    sequence = benchling_client(emulator).dna_sequences.get_by_id(ids[0])
    assert sequence.bases and (sequence.entity_registry_id or "").startswith("VEC")
    listed = httpx.get(f"{emulator.base_url}/_emulator/schemas").json()["entitySchemas"]
    assert SCHEMA_ID in [schema["id"] for schema in listed]


def _field(**changes: Any) -> dict[str, Any]:
    return {"name": "S", "fields": [{"id": "tsf_b", "name": "B", "type": "text", **changes}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"fields": []}, "name is required"),
        ({"name": "S", "type": "plasmid", "fields": []}, "unknown entity type 'plasmid'"),
        ({"name": "S", "fields": {"id": "tsf_b"}}, "fields must be a list"),
        ({"name": "S"}, "fields must be a list"),
        ({"name": "S", "prefix": "", "fields": []}, "prefix must be a non-empty string"),
        ({"name": "S", "fields": [], "field": []}, "unknown keys field"),
        ({"name": "S", "fields": ["tsf_b"]}, "each field must be an object"),
        ({"name": "S", "fields": [{"name": "B", "type": "text"}]}, "id is required"),
        (_field(name=""), "field 'tsf_b': name is required"),
        (_field(type="number"), "unknown field type 'number'"),
        (_field(is_multi=True), "unknown keys is_multi"),
        (_field(isMulti="yes"), "isMulti and isRequired must be booleans"),
        (_field(type="dropdown"), "a dropdown needs a non-empty list of options"),
        (_field(type="dropdown", options=[{"id": "o"}]), "each option needs a string id and name"),
        (_field(options=STATUS_OPTIONS), "only dropdowns have options"),
        (_field(type="blob_link", linkSchemaId=SCHEMA_ID), "linkSchemaId must be a schema id"),
        (_field(type="entity_link", linkSchemaId="ts_nowhere"), "links unknown schema"),
        (_field(id="tsf_description"), "is a field of schema ts_emulator01"),
        (
            {"name": "S", "fields": [BASE_FIELDS[0], {**BASE_FIELDS[3], "id": "tsf_c_label"}]},
            "duplicate field ids: tsf_c_label",
        ),
        (
            {"name": "S", "fields": [BASE_FIELDS[0], {**BASE_FIELDS[3], "name": "Label"}]},
            "duplicate field names: Label",
        ),
    ],
)
def test_definitions_that_do_not_fit_are_refused(
    emulator: EmulatorServer, body: Any, message: str
) -> None:
    answer = _put_schema(emulator, body)

    assert answer.status_code == 400
    assert message in answer.json()["error"]["message"]
    assert SCHEMA_ID not in [schema.id for schema in emulator.tenant.schemas()]


def test_a_schemas_type_cannot_change(emulator: EmulatorServer) -> None:
    _define(emulator, {"name": "Changing", "fields": BASE_FIELDS})

    answer = _put_schema(emulator, {"name": "Changing", "type": "molecule", "fields": []})

    assert answer.status_code == 400
    assert "its type cannot change" in answer.json()["error"]["message"]
    assert emulator.tenant.schema(SCHEMA_ID).type == "custom_entity"


def test_register_refuses_schema_id_beside_types_and_an_unknown_schema(
    emulator: EmulatorServer,
) -> None:
    both = _register(emulator, {"count": 1, "schema_id": "ts_emulator01", "types": ["molecule"]})
    unknown = _register(emulator, {"count": 1, "schema_id": "ts_nowhere"})

    assert both.status_code == 400
    assert "schema_id or types, not both" in both.json()["error"]["message"]
    assert unknown.status_code == 404

"""Entity schemas and their field definitions: what a field accepts, how Benchling shows it,
and how a ``PUT /_emulator/schemas/<id>`` body defines them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from benchling_emulator.clock import isoformat
from benchling_emulator.entity_types import ENTITY_TYPES
from benchling_emulator.errors import bad_request

# Looks up the display name of a linked entity (None when it does not exist).
NameLookup = Callable[[str], str | None]

# Links whose definitions carry ``schemaId`` (the SDK's ``SchemaLinkFieldDefinitionType``).
SCHEMA_LINK_TYPES = frozenset(
    {
        "entity_link",
        "entry_link",
        "part_link",
        "translation_link",
        "batch_link",
        "storage_link",
        "assay_request_link",
        "assay_result_link",
        "assay_run_link",
    }
)
# Links whose values are registry entities' ids.
ENTITY_LINK_TYPES = frozenset(
    {
        "entity_link",
        "custom_entity_link",
        "dna_sequence_link",
        "aa_sequence_link",
        "mixture_link",
        "molecule_link",
    }
)
LINK_TYPES = (
    SCHEMA_LINK_TYPES | ENTITY_LINK_TYPES | {"aa_part_link", "base_molecule_link", "blob_link"}
)
# Every field type of benchling-api-client's ``FieldType``.
FIELD_TYPES = LINK_TYPES | {
    "text",
    "long_text",
    "integer",
    "float",
    "boolean",
    "date",
    "datetime",
    "dropdown",
    "json",
}


@dataclass(frozen=True)
class DropdownOption:
    id: str
    name: str


@dataclass(frozen=True)
class FieldDefinition:
    id: str
    name: str  # the display name; entity JSON keys its fields by it
    type: str  # Benchling's field type: text, integer, float, boolean, dropdown, entity_link, ...
    is_multi: bool = False
    is_required: bool = False
    dropdown_id: str | None = None
    options: tuple[DropdownOption, ...] = ()
    link_schema_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The definition as ``GET /entity-schemas`` shows it (the SDK parses these strictly)."""
        definition: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "isMulti": self.is_multi,
            "isRequired": self.is_required,
            "archiveRecord": None,
        }
        if self.type in ("integer", "float"):
            definition.update(numericMin=None, numericMax=None, unit=None)
        if self.type == "float":
            definition.update(decimalPrecision=None, legalTextDropdownId=None)
        if self.type == "dropdown":
            definition["dropdownId"] = self.dropdown_id
        if self.type in SCHEMA_LINK_TYPES:
            definition["schemaId"] = self.link_schema_id
        return definition

    def accept(self, value: Any) -> Any:
        """The stored form of a value written through the API; ValueError when it does not fit."""
        if value is None:
            return None
        if not self.is_multi:
            return self._accept_one(value)
        if not isinstance(value, list):
            raise ValueError(f"field {self.name!r} is multi-valued: expected a list")
        return [self._accept_one(item) for item in value]

    def render(self, value: Any, name_of: NameLookup) -> dict[str, Any]:
        """The field as entity JSON carries it: value, type, isMulti, displayValue, textValue."""
        if value is None:
            shown = None
        elif self.is_multi:
            shown = ", ".join(self._display_one(item, name_of) for item in value)
        else:
            shown = self._display_one(value, name_of)
        return {
            "value": value,
            "type": self.type,
            "isMulti": self.is_multi,
            "displayValue": shown,
            "textValue": shown,
        }

    def _accept_one(self, value: Any) -> Any:
        if not self._fits(value):
            raise ValueError(f"field {self.name!r} ({self.type}) cannot hold {value!r}")
        if self.type == "float":
            return float(value)
        if self.type == "dropdown":
            return self._option(value).id
        if self.type == "datetime":
            datetime.fromisoformat(value)
        if self.type == "date":
            date.fromisoformat(value)
        return value

    def _fits(self, value: Any) -> bool:
        if self.type == "json":
            return True  # any JSON value: the request has already decoded it
        expected = _ACCEPTED_PYTHON_TYPES.get(self.type, str)
        # bool is an int in Python, but not a number in Benchling.
        return isinstance(value, expected) and isinstance(value, bool) == (self.type == "boolean")

    def _option(self, id_or_name: str) -> DropdownOption:
        for option in self.options:
            if id_or_name in (option.id, option.name):
                return option
        raise ValueError(f"field {self.name!r} has no dropdown option {id_or_name!r}")

    def _display_one(self, value: Any, name_of: NameLookup) -> str:
        if self.type == "dropdown":
            return self._option(value).name
        if self.type == "json":
            return json.dumps(value)
        if self.type in LINK_TYPES:
            return name_of(value) or value
        return str(value)


_ACCEPTED_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "integer": int,
    "float": (int, float),
    "boolean": bool,
}


@dataclass(frozen=True)
class EntitySchema:
    id: str
    name: str
    prefix: str
    registry_id: str
    fields: tuple[FieldDefinition, ...]
    modified_at: datetime
    type: str = "custom_entity"  # the entity type its entities are (entity_types.ENTITY_TYPES)

    def field(self, name: str) -> FieldDefinition | None:
        return next((field for field in self.fields if field.name == name), None)

    def summary(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "prefix": self.prefix,
            "registryId": self.registry_id,
            "archiveRecord": None,
            "constraint": None,
            "containableType": "NONE",
            "nameTemplateParts": [],
            "containerNameTemplateParts": [],
            "fieldDefinitions": [field.to_json() for field in self.fields],
            "modifiedAt": isoformat(self.modified_at),
        }


_SCHEMA_KEYS = frozenset({"name", "type", "prefix", "fields"})
_FIELD_KEYS = frozenset({"id", "name", "type", "isMulti", "isRequired", "options", "linkSchemaId"})


def schema_from_request(
    schema_id: str, body: dict[str, Any], registry_id: str, modified_at: datetime
) -> EntitySchema:
    """The schema a ``PUT /_emulator/schemas/<id>`` body defines; 400 for what does not fit.

    Unknown keys are refused too, so that a misspelt ``isMulti`` is not silently a single value.
    """
    _refuse_unknown_keys(body, _SCHEMA_KEYS, "the schema")
    name = _required_string(body, "name", "the schema")
    entity_type = body.get("type", "custom_entity")
    if not isinstance(entity_type, str) or entity_type not in ENTITY_TYPES:
        raise bad_request(f"unknown entity type {entity_type!r}; one of {', '.join(ENTITY_TYPES)}")
    prefix = body.get("prefix", "".join(filter(str.isalnum, name))[:3].upper())
    if not isinstance(prefix, str) or not prefix:
        raise bad_request("prefix must be a non-empty string")
    written = body.get("fields")
    if not isinstance(written, list):
        raise bad_request("fields must be a list of field definitions")
    fields = tuple(_field_from_request(item) for item in written)
    _refuse_duplicates([field.id for field in fields], "field ids")
    _refuse_duplicates([field.name for field in fields], "field names")
    return EntitySchema(schema_id, name, prefix, registry_id, fields, modified_at, entity_type)


def _field_from_request(item: Any) -> FieldDefinition:
    if not isinstance(item, dict):
        raise bad_request("each field must be an object with an id, a name and a type")
    field_id = _required_string(item, "id", "a field")
    where = f"field {field_id!r}"
    _refuse_unknown_keys(item, _FIELD_KEYS, where)
    name = _required_string(item, "name", where)
    field_type = item.get("type")
    if not isinstance(field_type, str) or field_type not in FIELD_TYPES:
        known = ", ".join(sorted(FIELD_TYPES))
        raise bad_request(f"{where}: unknown field type {field_type!r}; one of {known}")
    is_multi, is_required = (item.get(key, False) for key in ("isMulti", "isRequired"))
    if not isinstance(is_multi, bool) or not isinstance(is_required, bool):
        raise bad_request(f"{where}: isMulti and isRequired must be booleans")
    if field_type != "dropdown" and "options" in item:
        raise bad_request(f"{where}: only dropdowns have options")
    link_schema_id = item.get("linkSchemaId")
    if link_schema_id is not None and (
        field_type not in SCHEMA_LINK_TYPES or not isinstance(link_schema_id, str)
    ):
        links = ", ".join(sorted(SCHEMA_LINK_TYPES))
        raise bad_request(f"{where}: linkSchemaId must be a schema id, on a field of {links}")
    dropdown = field_type == "dropdown"
    return FieldDefinition(
        field_id,
        name,
        field_type,
        is_multi=is_multi,
        is_required=is_required,
        dropdown_id=f"sfs_{field_id}" if dropdown else None,
        options=_options_from_request(item.get("options"), where) if dropdown else (),
        link_schema_id=link_schema_id,
    )


def _options_from_request(written: Any, where: str) -> tuple[DropdownOption, ...]:
    if not isinstance(written, list) or not written:
        raise bad_request(f"{where}: a dropdown needs a non-empty list of options")
    options = []
    for option in written:
        if not isinstance(option, dict) or not all(
            isinstance(option.get(key), str) and option[key] for key in ("id", "name")
        ):
            raise bad_request(f"{where}: each option needs a string id and name")
        options.append(DropdownOption(option["id"], option["name"]))
    _refuse_duplicates([option.id for option in options], f"{where}: option ids")
    _refuse_duplicates([option.name for option in options], f"{where}: option names")
    return tuple(options)


def _required_string(body: dict[str, Any], key: str, where: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise bad_request(f"{where}: {key} is required (a non-empty string)")
    return value


def _refuse_unknown_keys(body: dict[str, Any], known: frozenset[str], where: str) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise bad_request(
            f"{where}: unknown keys {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def _refuse_duplicates(values: list[str], what: str) -> None:
    duplicates = sorted({value for value in values if values.count(value) > 1})
    if duplicates:
        raise bad_request(f"duplicate {what}: {', '.join(duplicates)}")

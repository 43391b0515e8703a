"""Entity schemas and their field definitions: what a field accepts, and how Benchling shows it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from benchling_emulator.clock import isoformat

# Looks up the display name of a linked entity (None when it does not exist).
NameLookup = Callable[[str], str | None]


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
        if self.type == "entity_link":
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
        if self.type == "entity_link":
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

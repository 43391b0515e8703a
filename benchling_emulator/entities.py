"""What the tenant holds of each registry entity, the filters a list call applies to them, and
how field values written through the API become stored values."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from benchling_emulator.clock import isoformat
from benchling_emulator.entity_types import CUSTOM_ENTITY, ENTITY_TYPES, Content, EntityType
from benchling_emulator.errors import bad_request
from benchling_emulator.listing import SortKey, SortOrder
from benchling_emulator.schemas import EntitySchema


@dataclass
class Entity:
    id: str
    name: str
    schema: EntitySchema
    folder_id: str | None
    fields: dict[str, Any]  # stored values by field display name
    custom_fields: dict[str, Any]
    aliases: list[str]
    created_at: datetime
    modified_at: datetime
    registry_id: str | None = None
    entity_registry_id: str | None = None
    registered_at: datetime | None = None
    archive_reason: str | None = None
    content: Content = field(default_factory=dict)  # what its type holds beside the fields

    @property
    def type(self) -> EntityType:
        return ENTITY_TYPES[self.schema.type]


@dataclass(frozen=True)
class EntityQuery:
    """The filters of a list (``GET /custom-entities`` …); None means "not filtered"."""

    types: frozenset[str] = frozenset({CUSTOM_ENTITY.name})
    schema_id: str | None = None
    registry_id: str | None = None
    ids: frozenset[str] | None = None
    modified_at: Callable[[datetime], bool] | None = None
    created_at: Callable[[datetime], bool] | None = None
    archive_reason: str = "NOT_ARCHIVED"  # or ANY_ARCHIVED, ANY_ARCHIVED_OR_NOT_ARCHIVED, a reason
    sort: SortOrder = field(default_factory=lambda: SortOrder("modifiedAt", descending=True))

    def matches(self, entity: Entity) -> bool:
        return (
            entity.schema.type in self.types
            and self.schema_id in (None, entity.schema.id)
            and self.registry_id in (None, entity.registry_id)
            and (self.ids is None or entity.id in self.ids)
            and (self.modified_at is None or self.modified_at(entity.modified_at))
            and (self.created_at is None or self.created_at(entity.created_at))
            and self._archive_matches(entity.archive_reason)
        )

    def _archive_matches(self, reason: str | None) -> bool:
        if self.archive_reason == "NOT_ARCHIVED":
            return reason is None
        if self.archive_reason == "ANY_ARCHIVED":
            return reason is not None
        if self.archive_reason == "ANY_ARCHIVED_OR_NOT_ARCHIVED":
            return True
        return reason == self.archive_reason

    def sort_key(self, entity: Entity) -> SortKey:
        if self.sort.property == "name":
            return entity.name, entity.id
        moment = entity.created_at if self.sort.property == "createdAt" else entity.modified_at
        return isoformat(moment), entity.id


def request_of(entity: Entity) -> dict[str, Any]:
    """The entity's type content as a create request would give it (to apply an update)."""
    content = dict(entity.content)
    if "canonicalizedSmiles" in content:
        content["chemicalStructure"] = {
            "structureFormat": "smiles",
            "value": content["originalSmiles"],
        }
    return content


def refit_fields(old: EntitySchema, new: EntitySchema, stored: dict[str, Any]) -> dict[str, Any]:
    """Stored values re-keyed for ``new`` by field id: a renamed field keeps its value under its
    new name, a removed one loses it, and a changed one keeps it only if ``new`` accepts it."""
    definitions = {definition.id: definition for definition in new.fields}
    refitted: dict[str, Any] = {}
    for previous in old.fields:
        definition = definitions.get(previous.id)
        value = stored.get(previous.name)
        if definition is None or value is None:
            continue
        with contextlib.suppress(ValueError):
            refitted[definition.name] = definition.accept(value)
    return refitted


def accept_fields(schema: EntitySchema, written: dict[str, Any]) -> dict[str, Any]:
    """Stored values from request fields ``{"Name": {"value": ...}}``; 400 when one does not fit."""
    accepted: dict[str, Any] = {}
    for name, wrapper in written.items():
        definition = schema.field(name)
        if definition is None:
            raise bad_request(f"schema {schema.name!r} has no field {name!r}")
        value = wrapper.get("value") if isinstance(wrapper, dict) else wrapper
        try:
            accepted[name] = definition.accept(value)
        except ValueError as error:
            raise bad_request(str(error)) from None
    return accepted

"""The tenant's entity schemas by id, and what a new definition must be beside the others.

Entities hold their schema and config items name its fields, so the tenant changes the catalog
under the lock its entities are changed under; the catalog has no lock of its own."""

from __future__ import annotations

from collections.abc import Iterable

from benchling_emulator.errors import bad_request, not_found
from benchling_emulator.schemas import EntitySchema


class SchemaCatalog:
    def __init__(self, schemas: Iterable[EntitySchema]) -> None:
        self._schemas = {schema.id: schema for schema in schemas}

    def get(self, schema_id: str) -> EntitySchema | None:
        return self._schemas.get(schema_id)

    def __getitem__(self, schema_id: str) -> EntitySchema:
        """The schema; 404 for an unknown id."""
        schema = self._schemas.get(schema_id)
        if schema is None:
            raise not_found("Entity schema", schema_id)
        return schema

    def all(self) -> list[EntitySchema]:
        return list(self._schemas.values())

    def define(self, schema: EntitySchema) -> EntitySchema | None:
        """Add ``schema`` or replace its earlier definition (returned); 400 for a definition
        that cannot be beside the others."""
        old = self._schemas.get(schema.id)
        self._check_fits(schema, old)
        self._schemas[schema.id] = schema
        return old

    def _check_fits(self, schema: EntitySchema, old: EntitySchema | None) -> None:
        if old is not None and old.type != schema.type:
            raise bad_request(f"schema {schema.id} is a {old.type} schema; its type cannot change")
        owners = {
            field.id: other.id
            for other in self._schemas.values()
            if other.id != schema.id
            for field in other.fields
        }
        for definition in schema.fields:
            if definition.id in owners:
                raise bad_request(
                    f"field id {definition.id!r} is a field of schema {owners[definition.id]}"
                )
            linked = definition.link_schema_id
            if definition.type == "entity_link" and linked not in (None, schema.id, *self._schemas):
                raise bad_request(f"field {definition.id!r} links unknown schema {linked!r}")

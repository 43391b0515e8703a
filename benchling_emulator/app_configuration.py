"""The App's configuration items (``/app-configuration-items``), as an admin links them in the
App's settings. It follows the tenant's schemas (a renamed field is shown by its new name), so
the tenant changes it under the lock its schemas are changed under."""

from __future__ import annotations

from dataclasses import replace

from benchling_emulator.clock import TenantClock
from benchling_emulator.errors import bad_request, not_found
from benchling_emulator.schemas import EntitySchema
from benchling_emulator.seed import SYNCED_FIELD_PATH, ConfigItem


class AppConfiguration:
    """The configuration items of one App installation; callers hold the tenant's lock."""

    def __init__(self, app_id: str, items: tuple[ConfigItem, ...], clock: TenantClock) -> None:
        self.app_id = app_id
        self._items = list(items)
        self._clock = clock

    def items(self, app_id: str) -> list[ConfigItem]:
        if app_id != self.app_id:
            raise not_found("App", app_id)
        return list(self._items)

    def follow(self, schema: EntitySchema) -> None:
        """Name each item's linked schema or field as ``schema`` now names it."""
        names = {schema.id: schema.name, **{field.id: field.name for field in schema.fields}}
        self._items = [
            replace(item, linked_name=names[item.linked_id]) if item.linked_id in names else item
            for item in self._items
        ]

    def link_synced_field(self, schema: EntitySchema, field_name: str) -> None:
        """Point "Synced Field Data" at the field of ``schema`` named ``field_name``."""
        field = schema.field(field_name)
        if field is None:
            raise bad_request(f"schema {schema.id} has no field named {field_name!r}")
        self._items = [
            replace(item, linked_id=field.id, linked_name=field.name, created_at=self._clock.now())
            if item.path == SYNCED_FIELD_PATH
            else item
            for item in self._items
        ]

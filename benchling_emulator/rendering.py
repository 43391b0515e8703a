"""An entity as Benchling's API shows it (``CustomEntity``, ``DnaSequence`` …)."""

from __future__ import annotations

from typing import Any

from benchling_emulator.clock import isoformat
from benchling_emulator.entities import Entity
from benchling_emulator.schemas import NameLookup

APP_USER = {"id": "ent_emulatorApp", "handle": "emulator-app", "name": "Emulator App"}


def render_entity(entity: Entity, base_url: str, name_of: NameLookup) -> dict[str, Any]:
    """The entity's JSON; ``name_of`` names the entities its link fields point at."""
    kind = entity.type
    web_url = f"{base_url}/benchling/{kind.path}/{entity.id}"
    archived = entity.archive_reason is not None
    registration = (
        {"originEntryId": None, "registeredAt": isoformat(entity.registered_at)}
        if entity.registered_at
        else None
    )
    return {
        "id": entity.id,
        "name": entity.name,
        "schema": entity.schema.summary(),
        "fields": {
            definition.name: definition.render(entity.fields.get(definition.name), name_of)
            for definition in entity.schema.fields
        },
        "customFields": {
            name: value if isinstance(value, dict) else {"value": value}
            for name, value in entity.custom_fields.items()
        },
        "registryId": entity.registry_id,
        "entityRegistryId": entity.entity_registry_id,
        "registrationOrigin": registration,
        "archiveRecord": {"reason": entity.archive_reason} if archived else None,
        "folderId": entity.folder_id,
        "aliases": list(entity.aliases),
        "authors": [APP_USER],
        "creator": APP_USER,
        "createdAt": isoformat(entity.created_at),
        "modifiedAt": isoformat(entity.modified_at),
        "webURL": web_url,
        **({"url": web_url} if kind.has_url else {}),
        "apiURL": f"{base_url}/api/v2/{kind.path}/{entity.id}",
        **entity.content,
    }

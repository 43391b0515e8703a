"""Entity documents shaped like Benchling's JSON, for tests that need no emulator."""

from __future__ import annotations

from typing import Any

SCHEMA_ID = "ts_plasmid"
FIELD = "Sequence Notes"


def entity_document(
    entity_id: str,
    modified_at: str = "2026-11-01T10:00:00.000000+00:00",
    *,
    name: str | None = None,
    value: str | None = "note",
    schema_id: str = SCHEMA_ID,
    archive_reason: str | None = None,
) -> dict[str, Any]:
    return {
        "id": entity_id,
        "name": name or f"Entity {entity_id}",
        "schema": {"id": schema_id, "name": "Plasmid"},
        "fields": {
            FIELD: {"value": value, "type": "text", "isMulti": False, "displayValue": value}
        },
        "registryId": "src_registry",
        "entityRegistryId": f"PLA{entity_id[-3:]}",
        "modifiedAt": modified_at,
        "createdAt": "2026-11-01T09:00:00.000000+00:00",
        "archiveRecord": {"reason": archive_reason} if archive_reason else None,
        "webURL": f"https://tenant.example/{entity_id}",
    }

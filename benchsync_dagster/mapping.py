"""Benchling entity documents → typed pandas frames, one frame shape per table.

An entity document is an object of one of the kinds (``kinds.KINDS``) as Benchling's JSON has it
(``CustomEntity.to_dict()``, ``DnaSequence.to_dict()``…): ``id``, ``name``, ``schema``,
``fields`` keyed by display name, ``modifiedAt``, ``archiveRecord``… These functions are pure:
no I/O, no Dagster.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from benchsync_core.kinds import kind_of_id
from benchsync_dagster.storage import snapshots, synced_data

EntityDocument = Mapping[str, Any]


class EntityDocumentError(ValueError):
    """A document lacks what every Benchling entity has (an id and a modifiedAt)."""


def _typed_frame(rows: list[dict[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    for column, dtype in columns.items():
        if dtype.startswith("datetime64"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame.astype(columns)


def _required(document: EntityDocument, key: str) -> Any:
    value = document.get(key)
    if value in (None, ""):
        raise EntityDocumentError(f"entity document {document.get('id')!r} has no {key!r}")
    return value


def schema_id(document: EntityDocument) -> str | None:
    schema = document.get("schema") or {}
    return schema.get("id") if isinstance(schema, Mapping) else None


def archive_reason(document: EntityDocument) -> str | None:
    record = document.get("archiveRecord") or {}
    return record.get("reason") if isinstance(record, Mapping) else None


def vanished(document: EntityDocument) -> bool:
    """Whether the document's archive is benchsync's (not returned by a listing), not
    Benchling's."""
    record = document.get("archiveRecord") or {}
    return isinstance(record, Mapping) and record.get(snapshots.VANISHED_MARKER) is True


def named_field(document: EntityDocument, names: Iterable[str]) -> Any:
    """The document's field under the first of ``names`` (a field's display names, newest
    first) that its fields have, or None (also when its ``fields`` is no object)."""
    fields = document.get("fields") or {}
    if not isinstance(fields, Mapping):
        return None
    return next((fields[name] for name in names if name in fields), None)


def field_text(document: EntityDocument, *field_names: str) -> str | None:
    """The field (under the first of ``field_names`` the document has) as text: its display
    value where Benchling gives one, else its value."""
    field = named_field(document, field_names)
    if not isinstance(field, Mapping):
        return None
    for key in ("displayValue", "textValue", "value"):
        value = field.get(key)
        if value not in (None, ""):
            return value if isinstance(value, str) else json.dumps(value)
    return None


def _entity_type(document: EntityDocument, entity_types: Mapping[str, str]) -> str:
    """The document's entity type: as ``entity_types`` (id → type) has it, else the one kind
    whose ids look like its id."""
    entity_id = _required(document, "id")
    named = entity_types.get(entity_id)
    if named is not None:
        return named
    kind = kind_of_id(str(entity_id))
    if kind is None:
        raise EntityDocumentError(f"entity document {entity_id!r} has no type its id tells")
    return kind.name


def snapshot_frame(
    documents: Sequence[EntityDocument],
    source_events: Mapping[str, str],
    entity_types: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per entity for ``benchling_entity_snapshots``; ``source_events`` maps id → event,
    ``entity_types`` id → entity type (where it says nothing, the type the id tells)."""
    rows = [
        {
            "entity_id": _required(document, "id"),
            "entity_type": _entity_type(document, entity_types or {}),
            "schema_id": schema_id(document),
            "modified_at": _required(document, "modifiedAt"),
            "archived": archive_reason(document) is not None,
            "vanished": vanished(document),
            "document": json.dumps(document, sort_keys=True),
            "source_event": source_events.get(document["id"]),
        }
        for document in documents
    ]
    return _typed_frame(rows, snapshots.COLUMNS)


def synced_data_frame(
    documents: Sequence[EntityDocument],
    field_names: tuple[str, ...],
    source_events: Mapping[str, str],
) -> pd.DataFrame:
    """One row per entity for the seed's ``synced_benchling_data``, reading the field under the
    first of ``field_names`` (its display names, newest first) each document has."""
    rows = [
        {
            "benchling_api_id": _required(document, "id"),
            "entity_name": document.get("name"),
            "field_value": field_text(document, *field_names),
            "schema_id": schema_id(document),
            "registry_id": document.get("registryId"),
            "entity_registry_id": document.get("entityRegistryId"),
            "modified_at": _required(document, "modifiedAt"),
            "archived": archive_reason(document) is not None,
            "archive_reason": archive_reason(document),
            "web_url": document.get("webURL"),
            "source_event": source_events.get(document["id"]),
            "vanished": vanished(document),
        }
        for document in documents
    ]
    return _typed_frame(rows, synced_data.COLUMNS)


def of_schemas(
    documents: Sequence[EntityDocument], schema_ids: frozenset[str] | None
) -> tuple[list[EntityDocument], dict[str, str]]:
    """The documents of these schemas (all of them for None), and why each other is left out,
    by entity id."""
    if schema_ids is None:
        return list(documents), {}
    kept, left_out = [], {}
    for document in documents:
        if schema_id(document) in schema_ids:
            kept.append(document)
        else:
            left_out[str(document["id"])] = (
                f"schema {schema_id(document)} is not mirrored (BENCHSYNC_SCHEMAS)"
            )
    return kept, left_out


def well_formed(
    documents: Sequence[EntityDocument],
) -> tuple[list[EntityDocument], dict[str, str]]:
    """The documents every table can take, and why each other one cannot, by entity id: one
    entity without a usable ``modifiedAt`` must not fail its whole batch."""
    kept, refused = [], {}
    for document in documents:
        try:
            _required(document, "id")
            pd.to_datetime(_required(document, "modifiedAt"), utc=True, format="ISO8601")
        except (EntityDocumentError, ValueError) as error:
            refused[str(document.get("id"))] = f"Benchling's document is unusable: {error}"
        else:
            kept.append(document)
    return kept, refused


def to_mirror(
    documents: Sequence[EntityDocument], schema_ids: frozenset[str] | None
) -> list[EntityDocument]:
    """A listing's documents to store: the well-formed ones of mirrored schemas (a listing has
    no event to settle, so the reasons for the others are not kept)."""
    kept, _ = well_formed(documents)
    kept, _ = of_schemas(kept, schema_ids)
    return kept


def newest_per_entity(documents: Sequence[EntityDocument]) -> list[EntityDocument]:
    """Drop all but the newest ``modifiedAt`` of each entity (a batch may fetch one twice)."""
    newest: dict[str, EntityDocument] = {}
    for document in documents:
        entity_id = _required(document, "id")
        kept = newest.get(entity_id)
        if kept is None or pd.Timestamp(document["modifiedAt"]) > pd.Timestamp(kept["modifiedAt"]):
            newest[entity_id] = document
    return list(newest.values())

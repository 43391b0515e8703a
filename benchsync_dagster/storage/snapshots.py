"""``benchling_entity_snapshots``: one raw jsonb document per entity, the newest modifiedAt wins."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
import psycopg

from benchsync_dagster.storage import frame_columns

# The rows this module writes: column name → pandas dtype, in table order.
COLUMNS: dict[str, str] = {
    "entity_id": "string",
    "entity_type": "string",
    "schema_id": "string",
    "modified_at": "datetime64[us, UTC]",
    "archived": "bool",
    "document": "string",
    "source_event": "string",
}

TABLE = "benchling_entity_snapshots"

_UPSERT = """
INSERT INTO benchling_entity_snapshots AS kept
    (entity_id, entity_type, schema_id, modified_at, archived, document, source_event)
SELECT entity_id, entity_type, schema_id, modified_at, archived, document::jsonb, source_event
FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::boolean[], %s::text[],
            %s::text[])
    AS incoming (entity_id, entity_type, schema_id, modified_at, archived, document, source_event)
ON CONFLICT (entity_id) DO UPDATE SET
    entity_type = EXCLUDED.entity_type,
    schema_id = EXCLUDED.schema_id,
    modified_at = EXCLUDED.modified_at,
    archived = EXCLUDED.archived,
    document = EXCLUDED.document,
    source_event = EXCLUDED.source_event,
    synced_at = now()
WHERE kept.modified_at < EXCLUDED.modified_at
"""


def upsert(connection: psycopg.Connection[Any], frame: pd.DataFrame) -> int:
    """Write the frame's snapshots, never over a newer one; returns the rows written."""
    if frame.empty:
        return 0
    cursor = connection.execute(_UPSERT, frame_columns(frame[list(COLUMNS)]))
    return cursor.rowcount


def archive(connection: psycopg.Connection[Any], entity_ids: Sequence[str], reason: str) -> int:
    """Mark these snapshots archived, in the document too (its ``archiveRecord``), so that a
    row rebuilt from it later says archived as well; returns how many changed."""
    return connection.execute(
        "UPDATE benchling_entity_snapshots SET archived = true, synced_at = now(),"
        " document = jsonb_set(document, '{archiveRecord}', jsonb_build_object('reason', %s::text))"
        " WHERE entity_id = ANY(%s) AND NOT archived",
        [reason, list(entity_ids)],
    ).rowcount


def documents(connection: psycopg.Connection[Any], entity_ids: Sequence[str]) -> list[Any]:
    """The stored documents of these entities (those we have)."""
    rows = connection.execute(
        "SELECT document FROM benchling_entity_snapshots WHERE entity_id = ANY(%s)",
        [list(entity_ids)],
    ).fetchall()
    return [document for (document,) in rows]


def documents_of_schema(
    connection: psycopg.Connection[Any], schema_id: str, chunk_size: int
) -> Iterator[list[Any]]:
    """Every stored document of ``schema_id``, ``chunk_size`` at a time (a server-side cursor:
    memory holds one chunk). Runs in the caller's transaction."""
    with connection.cursor(name="documents_of_schema") as cursor:
        cursor.execute(
            "SELECT document FROM benchling_entity_snapshots WHERE schema_id = %s", [schema_id]
        )
        while rows := cursor.fetchmany(chunk_size):
            yield [document for (document,) in rows]


def schema_types(connection: psycopg.Connection[Any], schema_ids: Sequence[str]) -> dict[str, str]:
    """The entity type of each of these schemas that a stored snapshot has (a cache of
    Benchling's schema lookups)."""
    rows = connection.execute(
        "SELECT DISTINCT ON (schema_id) schema_id, entity_type FROM benchling_entity_snapshots"
        " WHERE schema_id = ANY(%s)",
        [list(schema_ids)],
    ).fetchall()
    return {schema_id: entity_type for schema_id, entity_type in rows}


def count_by_type(connection: psycopg.Connection[Any]) -> dict[str, int]:
    """Stored snapshots per entity type."""
    rows = connection.execute(
        "SELECT entity_type, count(*) FROM benchling_entity_snapshots"
        " GROUP BY entity_type ORDER BY entity_type"
    ).fetchall()
    return {entity_type: int(count) for entity_type, count in rows}


def row_count(connection: psycopg.Connection[Any]) -> int:
    (count,) = connection.execute("SELECT count(*) FROM benchling_entity_snapshots").fetchone() or (
        0,
    )
    return int(count)

"""``synced_benchling_data``: the seed's table, one row per entity of the configured schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import psycopg

from benchsync_dagster.storage import StoredVersion, frame_columns, row_counts

# The rows this module writes: column name → pandas dtype, in table order.
COLUMNS: dict[str, str] = {
    "benchling_api_id": "string",
    "entity_name": "string",
    "field_value": "string",
    "schema_id": "string",
    "registry_id": "string",
    "entity_registry_id": "string",
    "modified_at": "datetime64[us, UTC]",
    "archived": "bool",
    "archive_reason": "string",
    "web_url": "string",
    "source_event": "string",
    "vanished": "bool",
}

TABLE = "synced_benchling_data"

# Arrays go in binary (%b), unquoted by Python (benchmarks/upsert_paths.py). A newer
# modifiedAt always wins; an equal one only rewrites a row whose content differs
# (the App configuration may now name another field; a row benchsync archived as vanished
# meets Benchling's document of its entity again).
_UPSERT = """
INSERT INTO synced_benchling_data AS kept
    (benchling_api_id, entity_name, field_value, schema_id, registry_id, entity_registry_id,
     modified_at, archived, archive_reason, web_url, source_event, vanished)
SELECT * FROM unnest(
    %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
    %b::timestamptz[], %b::boolean[], %b::text[], %b::text[], %b::text[], %b::boolean[])
ON CONFLICT (benchling_api_id) DO UPDATE SET
    entity_name = EXCLUDED.entity_name,
    field_value = EXCLUDED.field_value,
    schema_id = EXCLUDED.schema_id,
    registry_id = EXCLUDED.registry_id,
    entity_registry_id = EXCLUDED.entity_registry_id,
    modified_at = EXCLUDED.modified_at,
    archived = EXCLUDED.archived,
    archive_reason = EXCLUDED.archive_reason,
    web_url = EXCLUDED.web_url,
    source_event = EXCLUDED.source_event,
    vanished = EXCLUDED.vanished,
    synced_datetime = now()
WHERE kept.modified_at < EXCLUDED.modified_at
   OR (kept.modified_at = EXCLUDED.modified_at
       AND (kept.entity_name, kept.field_value, kept.archived, kept.archive_reason, kept.vanished)
           IS DISTINCT FROM
           (EXCLUDED.entity_name, EXCLUDED.field_value, EXCLUDED.archived, EXCLUDED.archive_reason,
            EXCLUDED.vanished))
"""


def upsert(connection: psycopg.Connection[Any], frame: pd.DataFrame) -> int:
    """Write the frame's rows, never over a newer one, in entity id order (as
    ``snapshots.upsert``, so that concurrent writers never deadlock); returns the rows
    written."""
    if frame.empty:
        return 0
    in_key_order = frame[list(COLUMNS)].sort_values("benchling_api_id")
    cursor = connection.execute(_UPSERT, frame_columns(in_key_order))
    return cursor.rowcount


def delete_other_schemas(connection: psycopg.Connection[Any], schema_id: str) -> int:
    """Remove the rows of every schema but ``schema_id`` (the table holds the configured schema's
    entities only; their snapshots stay); returns how many."""
    return connection.execute(
        "DELETE FROM synced_benchling_data WHERE schema_id IS DISTINCT FROM %s", [schema_id]
    ).rowcount


def modified_at_by_id(
    connection: psycopg.Connection[Any], entity_ids: Sequence[str]
) -> dict[str, StoredVersion]:
    """What is stored of those of ``entity_ids`` that have a row."""
    rows = connection.execute(
        "SELECT benchling_api_id, modified_at, archived, vanished FROM synced_benchling_data"
        " WHERE benchling_api_id = ANY(%s)",
        [list(entity_ids)],
    ).fetchall()
    return {entity_id: StoredVersion(*version) for entity_id, *version in rows}


def mark_vanished(
    connection: psycopg.Connection[Any], entity_ids: Sequence[str], reason: str
) -> int:
    """Mark these entities' rows archived and vanished (a full listing did not return them);
    returns how many changed."""
    return connection.execute(
        "UPDATE synced_benchling_data SET archived = true, vanished = true,"
        " archive_reason = %s, synced_datetime = now()"
        " WHERE benchling_api_id = ANY(%s) AND NOT archived",
        [reason, list(entity_ids)],
    ).rowcount


PREVIEW_CHARACTERS = 100


def preview(
    connection: psycopg.Connection[Any], entity_ids: Sequence[str], limit: int = 10
) -> pd.DataFrame:
    """Up to ``limit`` of these entities' rows (a run's), for a materialization's metadata,
    names and values cut to ``PREVIEW_CHARACTERS`` (a text field may hold megabytes)."""
    cursor = connection.execute(
        "SELECT benchling_api_id, left(entity_name, %(cut)s) AS entity_name,"
        " left(field_value, %(cut)s) AS field_value, modified_at, archived"
        " FROM synced_benchling_data WHERE benchling_api_id = ANY(%(ids)s)"
        " ORDER BY modified_at DESC, benchling_api_id LIMIT %(limit)s",
        {"cut": PREVIEW_CHARACTERS, "ids": list(entity_ids), "limit": limit},
    )
    columns = [column.name for column in cursor.description or []]
    return pd.DataFrame(cursor.fetchall(), columns=columns)


def row_count(connection: psycopg.Connection[Any]) -> int:
    return row_counts.current(connection, TABLE)


def duplicate_ids(connection: psycopg.Connection[Any], entity_ids: Sequence[str]) -> int:
    """Those of ``entity_ids`` with more than one row: zero unless the UNIQUE constraint was
    dropped."""
    (count,) = connection.execute(
        "SELECT count(*) FROM (SELECT benchling_api_id FROM synced_benchling_data"
        " WHERE benchling_api_id = ANY(%s)"
        " GROUP BY benchling_api_id HAVING count(*) > 1) AS duplicated",
        [list(entity_ids)],
    ).fetchone() or (0,)
    return int(count)


def snapshots_without_row(
    connection: psycopg.Connection[Any], entity_ids: Sequence[str], schema_id: str
) -> int:
    """Those of ``entity_ids`` whose snapshot is of ``schema_id`` (the synced schema) but that
    have no row here."""
    (count,) = connection.execute(
        "SELECT count(*) FROM benchling_entity_snapshots AS snapshot"
        " WHERE snapshot.entity_id = ANY(%s) AND snapshot.schema_id = %s"
        " AND NOT EXISTS (SELECT 1 FROM synced_benchling_data AS row"
        "                 WHERE row.benchling_api_id = snapshot.entity_id)",
        [list(entity_ids), schema_id],
    ).fetchone() or (0,)
    return int(count)

"""``benchling_entity_snapshots``: one raw jsonb document per entity, the newest modifiedAt wins."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql
from psycopg.rows import class_row

from benchsync_dagster.storage import StoredVersion, frame_columns, row_counts

# The rows this module writes: column name → pandas dtype, in table order.
COLUMNS: dict[str, str] = {
    "entity_id": "string",
    "entity_type": "string",
    "schema_id": "string",
    "modified_at": "datetime64[us, UTC]",
    "archived": "bool",
    "vanished": "bool",
    "document": "string",
    "source_event": "string",
}

TABLE = "benchling_entity_snapshots"

# The key benchsync adds to an ``archiveRecord`` it wrote itself, for an entity a full listing no
# longer returned (Benchling's own records hold only ``reason``, one of a fixed list).
VANISHED_MARKER = "benchsyncVanished"

# Arrays go in binary (%b): psycopg quotes each element of a text array in Python, which cost
# 4/5 of a 1,000-document write (benchmarks/upsert_paths.py).
_UPSERT = """
INSERT INTO benchling_entity_snapshots AS kept
    (entity_id, entity_type, schema_id, modified_at, archived, vanished, document, source_event)
SELECT entity_id, entity_type, schema_id, modified_at, archived, vanished, document::jsonb,
       source_event
FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::boolean[], %b::boolean[],
            %b::text[], %b::text[])
    AS incoming (entity_id, entity_type, schema_id, modified_at, archived, vanished, document,
                 source_event)
ON CONFLICT (entity_id) DO UPDATE SET
    entity_type = EXCLUDED.entity_type,
    schema_id = EXCLUDED.schema_id,
    modified_at = EXCLUDED.modified_at,
    archived = EXCLUDED.archived,
    vanished = EXCLUDED.vanished,
    document = EXCLUDED.document,
    source_event = EXCLUDED.source_event,
    synced_at = now()
-- A snapshot benchsync archived because a full listing did not return it gives way to
-- Benchling's document of the same modifiedAt: the entity is visible again. (Benchling's own
-- archives and unarchives move modifiedAt, so newest-wins carries those.)
WHERE kept.modified_at < EXCLUDED.modified_at
   OR (kept.vanished AND NOT EXCLUDED.vanished AND kept.modified_at = EXCLUDED.modified_at)
"""


def upsert(connection: psycopg.Connection[Any], frame: pd.DataFrame) -> int:
    """Write the frame's snapshots, never over a newer one, in entity id order (concurrent
    writers of overlapping batches then lock rows in one order and never deadlock); returns the
    rows written."""
    if frame.empty:
        return 0
    in_key_order = frame[list(COLUMNS)].sort_values("entity_id")
    cursor = connection.execute(_UPSERT, frame_columns(in_key_order))
    return cursor.rowcount


@dataclass(frozen=True)
class Unlisted:
    """Of one entity type: its unarchived snapshots stored before a full listing began, and how
    many of them the listing did not return."""

    stored: int
    unlisted: int


def unlisted_by_type(
    connection: psycopg.Connection[Any], run_id: str, stored_before: datetime
) -> dict[str, Unlisted]:
    """Per entity type, what ``mark_vanished`` would archive of it, out of how many."""
    # A row the same listing repaired (stale, reappeared) was stored since, yet was there before.
    rows = connection.execute(
        "SELECT entity_type,"
        " count(*) FILTER (WHERE synced_at < %(before)s OR listed),"
        " count(*) FILTER (WHERE synced_at < %(before)s AND NOT listed)"
        " FROM (SELECT entity_type, synced_at, EXISTS ("
        "   SELECT 1 FROM benchsync.reconciliation_listed AS listed"
        "   WHERE listed.run_id = %(run_id)s AND listed.entity_id = snapshot.entity_id) AS listed"
        "   FROM benchling_entity_snapshots AS snapshot WHERE NOT archived) AS mirrored"
        " GROUP BY entity_type",
        {"run_id": run_id, "before": stored_before},
    ).fetchall()
    return {entity_type: Unlisted(stored, unlisted) for entity_type, stored, unlisted in rows}


def mark_vanished(
    connection: psycopg.Connection[Any],
    run_id: str,
    stored_before: datetime,
    reason: str,
    entity_types: Sequence[str],
) -> list[tuple[str, str]]:
    """Mark archived and vanished the snapshots of ``entity_types`` stored before
    ``stored_before`` that the full listing noted under ``run_id`` (in
    ``benchsync.reconciliation_listed``) did not return — in the document too (an
    ``archiveRecord`` with benchsync's marker), so that a row rebuilt from it later says so as
    well; returns their (entity id, entity type). One stored since may postdate its type's
    listing."""
    rows = connection.execute(
        "UPDATE benchling_entity_snapshots SET archived = true, vanished = true,"
        " synced_at = now(), document = jsonb_set(document, '{archiveRecord}',"
        "   jsonb_build_object('reason', %s::text, %s::text, true))"
        " WHERE NOT archived AND synced_at < %s AND entity_type = ANY(%s) AND NOT EXISTS ("
        "   SELECT 1 FROM benchsync.reconciliation_listed AS listed"
        "   WHERE listed.run_id = %s AND listed.entity_id = benchling_entity_snapshots.entity_id)"
        " RETURNING entity_id, entity_type",
        [reason, VANISHED_MARKER, stored_before, list(entity_types), run_id],
    ).fetchall()
    return [(entity_id, entity_type) for entity_id, entity_type in rows]


def modified_at_by_id(
    connection: psycopg.Connection[Any], entity_ids: Sequence[str]
) -> dict[str, StoredVersion]:
    """What is stored of those of ``entity_ids`` that have a snapshot."""
    rows = connection.execute(
        "SELECT entity_id, modified_at, archived, vanished FROM benchling_entity_snapshots"
        " WHERE entity_id = ANY(%s)",
        [list(entity_ids)],
    ).fetchall()
    return {entity_id: StoredVersion(*version) for entity_id, *version in rows}


@dataclass(frozen=True)
class StoredSnapshot:
    document: dict[str, Any]
    entity_type: str
    source_event: str | None


# The document keys the rows of synced_benchling_data and of the typed tables are made of
# (mapping.synced_data_frame, catalog.typed_rows): what is read back to make rows, never a
# sequence's bases, which may be megabases.
ROW_KEYS = (
    "id",
    "name",
    "schema",
    "fields",
    "registryId",
    "entityRegistryId",
    "createdAt",
    "modifiedAt",
    "archiveRecord",
    "webURL",
)
_ROW_DOCUMENT = sql.SQL(
    "(SELECT jsonb_object_agg(key, value) FROM jsonb_each(document) WHERE key = ANY({keys}))"
).format(keys=sql.Literal(list(ROW_KEYS)))


def stored_of_schema(
    connection: psycopg.Connection[Any],
    schema_id: str,
    chunk_size: int,
    entity_ids: Sequence[str] | None = None,
) -> Iterator[list[StoredSnapshot]]:
    """Every stored snapshot of ``schema_id`` (of these entities, when given), its document cut
    to ``ROW_KEYS``, ``chunk_size`` at a time (a server-side cursor: memory holds one chunk).
    Runs in the caller's transaction."""
    of_entities = sql.SQL("AND entity_id = ANY(%s)" if entity_ids is not None else "")
    with connection.cursor(
        name="stored_of_schema", row_factory=class_row(StoredSnapshot)
    ) as cursor:
        cursor.execute(
            sql.SQL(
                "SELECT {document} AS document, entity_type, source_event"
                " FROM benchling_entity_snapshots WHERE schema_id = %s {of_entities}"
            ).format(document=_ROW_DOCUMENT, of_entities=of_entities),
            [schema_id, *([list(entity_ids)] if entity_ids is not None else [])],
        )
        while rows := cursor.fetchmany(chunk_size):
            yield rows


def one_per_untyped_schema(connection: psycopg.Connection[Any]) -> list[StoredSnapshot]:
    """A stored snapshot of each schema that has no typed table yet (one written before typed
    tables existed, or whose table was dropped to be made again)."""
    with connection.cursor(row_factory=class_row(StoredSnapshot)) as cursor:
        return cursor.execute(
            sql.SQL(
                "SELECT {document} AS document, entity_type, source_event FROM ("
                "   SELECT DISTINCT ON (schema_id) document, entity_type, source_event"
                "   FROM benchling_entity_snapshots AS stored WHERE schema_id IS NOT NULL"
                "   AND NOT EXISTS (SELECT 1 FROM benchsync.typed_tables AS typed"
                "                   WHERE typed.schema_id = stored.schema_id)"
                "   ORDER BY schema_id) AS one_per_schema"
            ).format(document=_ROW_DOCUMENT)
        ).fetchall()


def schema_types(connection: psycopg.Connection[Any], schema_ids: Sequence[str]) -> dict[str, str]:
    """The entity type of each of these schemas that a stored snapshot has (a cache of
    Benchling's schema lookups). Reads one snapshot per schema, through the index on
    ``(schema_id, modified_at)``, however many each schema has."""
    rows = connection.execute(
        "SELECT wanted.schema_id, one.entity_type FROM unnest(%s::text[]) AS wanted (schema_id)"
        " CROSS JOIN LATERAL (SELECT entity_type FROM benchling_entity_snapshots AS stored"
        "   WHERE stored.schema_id = wanted.schema_id LIMIT 1) AS one",
        [list(schema_ids)],
    ).fetchall()
    return {schema_id: entity_type for schema_id, entity_type in rows}


@dataclass(frozen=True)
class SchemaMirror:
    """What is stored of one schema's entities."""

    entity_type: str
    schema_id: str | None
    schema_name: str | None
    rows: int
    newest_modified_at: datetime


def by_schema(connection: psycopg.Connection[Any]) -> list[SchemaMirror]:
    """Per entity type and schema: the snapshots stored, the schema's name as the newest one
    gives it, and the newest ``modifiedAt`` among them."""
    with connection.cursor(row_factory=class_row(SchemaMirror)) as cursor:
        return cursor.execute(
            "SELECT entity_type, schema_id, rows, newest_modified_at, ("
            "   SELECT document -> 'schema' ->> 'name' FROM benchling_entity_snapshots AS newest"
            "   WHERE newest.schema_id = mirrored.schema_id"
            "     AND newest.modified_at = mirrored.newest_modified_at LIMIT 1) AS schema_name"
            " FROM (SELECT entity_type, schema_id, count(*) AS rows,"
            "         max(modified_at) AS newest_modified_at"
            "       FROM benchling_entity_snapshots GROUP BY entity_type, schema_id) AS mirrored"
            " ORDER BY entity_type, schema_id"
        ).fetchall()


def row_count(connection: psycopg.Connection[Any]) -> int:
    return row_counts.current(connection, TABLE)

"""``benchsync.typed_table_backfills``: per entity schema, since when its typed table waits to
be filled from the schema's stored snapshots (``typed_table_backfill_job`` fills it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg


def note_due(connection: psycopg.Connection[Any], schema_id: str) -> None:
    """The schema's table is short of its snapshots: fill it (again) from them."""
    connection.execute(
        "INSERT INTO benchsync.typed_table_backfills (schema_id) VALUES (%s)"
        " ON CONFLICT (schema_id) DO UPDATE SET due_since = now()",
        [schema_id],
    )


def note_due_if_older(
    connection: psycopg.Connection[Any], schema_id: str, written_ids: Sequence[str]
) -> bool:
    """Note the schema's new table due when the schema has snapshots besides those of
    ``written_ids`` (whose rows the table was made with); returns whether it did."""
    noted = connection.execute(
        "INSERT INTO benchsync.typed_table_backfills (schema_id)"
        " SELECT %(schema)s WHERE EXISTS (SELECT FROM benchling_entity_snapshots"
        "   WHERE schema_id = %(schema)s AND entity_id <> ALL(%(ids)s))"
        " ON CONFLICT (schema_id) DO UPDATE SET due_since = now()",
        {"schema": schema_id, "ids": list(written_ids)},
    )
    return noted.rowcount > 0


def due(connection: psycopg.Connection[Any]) -> dict[str, datetime]:
    """The schemas whose tables wait to be filled, with since when, oldest first."""
    query = "SELECT schema_id, due_since FROM benchsync.typed_table_backfills ORDER BY 2, 1"
    return dict(connection.execute(query).fetchall())


def done(connection: psycopg.Connection[Any], schema_id: str, due_since: datetime) -> None:
    """The schema's table was filled for what was due at ``due_since`` (a later note stays)."""
    connection.execute(
        "DELETE FROM benchsync.typed_table_backfills WHERE schema_id = %s AND due_since <= %s",
        [schema_id, due_since],
    )

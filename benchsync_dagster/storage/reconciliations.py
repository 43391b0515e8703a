"""``benchsync.reconciliations``: one row per entity type a reconciliation listed, with its
watermark and drift; and the ids a full listing returned, while it runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class Reconciliation:
    started_at: datetime
    mode: str
    entity_type: str | None  # None: a row recorded before reconciliations listed every type
    schema_id: str | None  # the one schema listed; None: every mirrored schema
    watermark_from: datetime | None
    watermark_to: datetime | None
    listed: int
    missing: int
    stale: int
    archived: int
    vanished: int
    run_id: str | None
    reappeared: int = 0  # archived as vanished, returned again
    withheld: int = 0  # not returned, but not archived: over the guard (a failed check)


def record(connection: psycopg.Connection[Any], reconciliation: Reconciliation) -> None:
    connection.execute(
        "INSERT INTO benchsync.reconciliations (started_at, mode, entity_type, schema_id,"
        " watermark_from, watermark_to, listed, missing, stale, archived, vanished, run_id,"
        " reappeared, withheld) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            reconciliation.started_at,
            reconciliation.mode,
            reconciliation.entity_type,
            reconciliation.schema_id,
            reconciliation.watermark_from,
            reconciliation.watermark_to,
            reconciliation.listed,
            reconciliation.missing,
            reconciliation.stale,
            reconciliation.archived,
            reconciliation.vanished,
            reconciliation.run_id,
            reconciliation.reappeared,
            reconciliation.withheld,
        ],
    )


def watermarks(connection: psycopg.Connection[Any]) -> dict[str, datetime]:
    """Per entity type, the newest modifiedAt any reconciliation of it has seen."""
    rows = connection.execute(
        "SELECT entity_type, max(watermark_to) FROM benchsync.reconciliations"
        " WHERE entity_type IS NOT NULL AND watermark_to IS NOT NULL GROUP BY entity_type"
    ).fetchall()
    return {entity_type: watermark for entity_type, watermark in rows}


def reconciled_through(connection: psycopg.Connection[Any]) -> dict[str, datetime]:
    """Per entity type, when its latest reconciliation began (every change before is stored)."""
    rows = connection.execute(
        "SELECT entity_type, max(started_at) FROM benchsync.reconciliations"
        " WHERE entity_type IS NOT NULL GROUP BY entity_type"
    ).fetchall()
    return {entity_type: moment for entity_type, moment in rows}


def latest_run(connection: psycopg.Connection[Any]) -> list[Reconciliation]:
    """The rows of the latest reconciliation run, one per entity type it listed."""
    with connection.cursor(row_factory=class_row(Reconciliation)) as cursor:
        return cursor.execute(
            "SELECT started_at, mode, entity_type, schema_id, watermark_from, watermark_to,"
            " listed, missing, stale, archived, vanished, run_id, reappeared, withheld"
            " FROM benchsync.reconciliations"
            " WHERE run_id IS NOT DISTINCT FROM ("
            "   SELECT run_id FROM benchsync.reconciliations ORDER BY id DESC LIMIT 1)"
            " ORDER BY id"
        ).fetchall()


def note_listed(connection: psycopg.Connection[Any], run_id: str, entity_ids: list[str]) -> None:
    """Remember that a full listing in ``run_id`` returned these entities (in id order, as
    every multi-row write here: concurrent writers then never deadlock)."""
    connection.execute(
        "INSERT INTO benchsync.reconciliation_listed (run_id, entity_id)"
        " SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
        [run_id, sorted(entity_ids)],
    )


def forget_listed(connection: psycopg.Connection[Any], run_id: str) -> None:
    connection.execute("DELETE FROM benchsync.reconciliation_listed WHERE run_id = %s", [run_id])

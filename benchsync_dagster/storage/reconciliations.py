"""``benchsync.reconciliations``: one row per reconciliation, with its watermark and drift."""

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
    schema_id: str
    watermark_from: datetime | None
    watermark_to: datetime | None
    listed: int
    missing: int
    stale: int
    archived: int
    vanished: int
    run_id: str | None


def record(connection: psycopg.Connection[Any], reconciliation: Reconciliation) -> None:
    connection.execute(
        "INSERT INTO benchsync.reconciliations (started_at, mode, schema_id, watermark_from,"
        " watermark_to, listed, missing, stale, archived, vanished, run_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            reconciliation.started_at,
            reconciliation.mode,
            reconciliation.schema_id,
            reconciliation.watermark_from,
            reconciliation.watermark_to,
            reconciliation.listed,
            reconciliation.missing,
            reconciliation.stale,
            reconciliation.archived,
            reconciliation.vanished,
            reconciliation.run_id,
        ],
    )


def watermark(connection: psycopg.Connection[Any], schema_id: str) -> datetime | None:
    """The newest modifiedAt any reconciliation of ``schema_id`` has seen."""
    row = connection.execute(
        "SELECT max(watermark_to) FROM benchsync.reconciliations WHERE schema_id = %s",
        [schema_id],
    ).fetchone()
    return row[0] if row else None


def latest(connection: psycopg.Connection[Any]) -> Reconciliation | None:
    with connection.cursor(row_factory=class_row(Reconciliation)) as cursor:
        return cursor.execute(
            "SELECT started_at, mode, schema_id, watermark_from, watermark_to, listed, missing,"
            " stale, archived, vanished, run_id FROM benchsync.reconciliations"
            " ORDER BY id DESC LIMIT 1"
        ).fetchone()


def note_listed(connection: psycopg.Connection[Any], run_id: str, entity_ids: list[str]) -> None:
    """Remember that a full listing in ``run_id`` returned these entities."""
    connection.execute(
        "INSERT INTO benchsync.reconciliation_listed (run_id, entity_id)"
        " SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
        [run_id, entity_ids],
    )


def forget_listed(connection: psycopg.Connection[Any], run_id: str) -> None:
    connection.execute("DELETE FROM benchsync.reconciliation_listed WHERE run_id = %s", [run_id])

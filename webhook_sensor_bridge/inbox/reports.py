"""What ``benchsync status``, the demo and the sync's health checks read of ``benchsync.inbox``:
counts by state, the oldest pending event, recent dead letters, sync latency. Reads only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from webhook_sensor_bridge.inbox.rows import InboxCounts

_COUNT_BY_STATE = sql.SQL("""
    SELECT count(*),
           count(*) FILTER (WHERE state = 'pending'),
           count(*) FILTER (WHERE state = 'synced'),
           count(*) FILTER (WHERE state = 'ignored'),
           count(*) FILTER (WHERE state = 'dead'),
           extract(epoch FROM clock_timestamp()
                              - min(received_at) FILTER (WHERE state = 'pending'))::float8
    FROM benchsync.inbox""")


def count_by_state(
    connection: psycopg.Connection[Any], resource_ids: Sequence[str] | None = None
) -> InboxCounts:
    """Counts over the whole inbox, or over the events about ``resource_ids`` (read through
    the ``resource_id`` index, migration 0018)."""
    # Two statements, not one with "ids IS NULL OR": a prepared statement's generic plan could
    # not use the index for the OR and would read the whole inbox.
    if resource_ids is None:
        row = connection.execute(_COUNT_BY_STATE).fetchone()
    else:
        row = connection.execute(
            _COUNT_BY_STATE + sql.SQL(" WHERE resource_id = ANY(%s)"), [list(resource_ids)]
        ).fetchone()
    assert row is not None  # an aggregate always returns one row
    total, pending, synced, ignored, dead, oldest_pending_seconds = row
    return InboxCounts(total, pending, synced, ignored, dead, oldest_pending_seconds)


def oldest_pending_seconds(connection: psycopg.Connection[Any]) -> float | None:
    """Age of the oldest pending event; reads only pending rows (the partial index)."""
    row = connection.execute(
        "SELECT extract(epoch FROM clock_timestamp() - min(received_at))::float8"
        " FROM benchsync.inbox WHERE state = 'pending'"
    ).fetchone()
    return row[0] if row else None


def dead_since(
    connection: psycopg.Connection[Any], since: datetime, limit: int
) -> tuple[int, list[tuple[str, str | None, str | None]]]:
    """Events dead-lettered since ``since``: how many, and the newest ``limit`` of them as
    (webhook id, resource id, reason)."""
    rows = connection.execute(
        """
        SELECT webhook_id, resource_id, reason, count(*) OVER ()
        FROM benchsync.inbox WHERE state = 'dead' AND finished_at >= %s
        ORDER BY finished_at DESC LIMIT %s
        """,
        (since, limit),
    ).fetchall()
    return (int(rows[0][3]) if rows else 0), [(row[0], row[1], row[2]) for row in rows]


def last_synced_at(connection: psycopg.Connection[Any]) -> datetime | None:
    row = connection.execute(
        "SELECT max(finished_at) FROM benchsync.inbox WHERE state = 'synced'"
    ).fetchone()
    return row[0] if row else None


def sync_latency_percentiles(
    connection: psycopg.Connection[Any], resource_ids: Sequence[str], fractions: Sequence[float]
) -> list[float | None]:
    """Seconds from receiving a webhook to its sync, at each fraction (0.5 = median)."""
    row = connection.execute(
        """
        SELECT percentile_cont(%s::float8[]) WITHIN GROUP (
                   ORDER BY extract(epoch FROM finished_at - received_at))
        FROM benchsync.inbox WHERE state = 'synced' AND resource_id = ANY(%s)
        """,
        (list(fractions), list(resource_ids)),
    ).fetchone()
    values = row[0] if row else None
    return list(values) if values is not None else [None] * len(fractions)

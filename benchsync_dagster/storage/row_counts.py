"""``benchsync.row_counts``: how many rows the synced tables hold, kept by their triggers
(migration 0011), so that reading a count costs one row, however large the table."""

from __future__ import annotations

from typing import Any

import psycopg


def current(connection: psycopg.Connection[Any], table: str) -> int:
    """The rows ``table`` holds, as its triggers have counted them (this transaction's own
    writes included)."""
    row = connection.execute(
        "SELECT row_count FROM benchsync.row_counts WHERE table_name = %s", [table]
    ).fetchone()
    return int(row[0]) if row else 0

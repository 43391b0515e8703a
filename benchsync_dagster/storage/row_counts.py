"""``benchsync.row_counts``: how many rows the synced tables hold, kept by their triggers
(migrations 0011 and 0019), and each typed table (``benchling.<table>``, added by the typed
writer since 0021), so that reading a count costs a few rows, however large the table.

A table's count is the sum of its slots: each writing backend adds to a slot of its own, so
concurrent writers do not wait for one another's commit (migration 0019 says how)."""

from __future__ import annotations

from typing import Any

import psycopg


def current(connection: psycopg.Connection[Any], table: str) -> int:
    """The rows ``table`` holds, as its triggers have counted them (this transaction's own
    writes included)."""
    row = connection.execute(
        "SELECT coalesce(sum(row_count), 0) FROM benchsync.row_counts WHERE table_name = %s",
        [table],
    ).fetchone()
    return int(row[0]) if row else 0

"""``benchsync.poll_watermarks``: per entity type, the newest ``modifiedAt`` the poll has seen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg


def watermarks(connection: psycopg.Connection[Any]) -> dict[str, datetime]:
    rows = connection.execute("SELECT entity_type, watermark FROM benchsync.poll_watermarks")
    return {entity_type: watermark for entity_type, watermark in rows}


def advance(connection: psycopg.Connection[Any], entity_type: str, watermark: datetime) -> None:
    """Move the type's watermark to ``watermark``, never back."""
    connection.execute(
        """
        INSERT INTO benchsync.poll_watermarks AS kept (entity_type, watermark, polled_at)
        VALUES (%s, %s, now())
        ON CONFLICT (entity_type) DO UPDATE SET
            watermark = greatest(kept.watermark, EXCLUDED.watermark), polled_at = now()
        """,
        (entity_type, watermark),
    )

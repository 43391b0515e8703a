"""``benchsync.poll_watermarks``: per entity type, the newest ``modifiedAt`` the poll has seen,
and when a poll last listed the type to its end."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg


def watermarks(connection: psycopg.Connection[Any]) -> dict[str, datetime]:
    rows = connection.execute(
        "SELECT entity_type, watermark FROM benchsync.poll_watermarks WHERE watermark IS NOT NULL"
    )
    return {entity_type: watermark for entity_type, watermark in rows}


def advance(connection: psycopg.Connection[Any], entity_type: str, watermark: datetime) -> None:
    """Move the type's watermark to ``watermark``, never back."""
    connection.execute(
        """
        INSERT INTO benchsync.poll_watermarks AS kept (entity_type, watermark)
        VALUES (%s, %s)
        ON CONFLICT (entity_type) DO UPDATE SET
            watermark = greatest(kept.watermark, EXCLUDED.watermark)
        """,
        (entity_type, watermark),
    )


def note_listed_to_the_end(
    connection: psycopg.Connection[Any], entity_type: str, listing_began: datetime
) -> None:
    """Every change of the type made before ``listing_began`` is stored: a poll that began
    then listed it to its last page."""
    connection.execute(
        """
        INSERT INTO benchsync.poll_watermarks AS kept (entity_type, polled_at)
        VALUES (%s, %s)
        ON CONFLICT (entity_type) DO UPDATE SET
            polled_at = greatest(kept.polled_at, EXCLUDED.polled_at)
        """,
        (entity_type, listing_began),
    )


def polled_at(connection: psycopg.Connection[Any]) -> dict[str, datetime]:
    """Up to when each type's changes are known stored (the latest poll listed to its end)."""
    rows = connection.execute(
        "SELECT entity_type, polled_at FROM benchsync.poll_watermarks WHERE polled_at IS NOT NULL"
    )
    return {entity_type: moment for entity_type, moment in rows}

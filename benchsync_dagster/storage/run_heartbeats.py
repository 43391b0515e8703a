"""``benchsync.run_heartbeats``: when each run of a job that calls Benchling last showed that its
process lives (``benchsync_dagster/liveness.py`` beats; the ``fail_orphaned_runs`` sensor reads).

Times are the database server's, written and compared on its clock: the run's process and the
sensor's may disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class LastBeat:
    run_id: str
    beat_at: datetime
    age_seconds: float  # on the database's clock, when read


def beat(connection: psycopg.Connection[Any], run_id: str, job_name: str) -> None:
    """The run's process is alive now."""
    connection.execute(
        """
        INSERT INTO benchsync.run_heartbeats (run_id, job_name, beat_at)
        VALUES (%s, %s, clock_timestamp())
        ON CONFLICT (run_id) DO UPDATE SET beat_at = EXCLUDED.beat_at
        """,
        (run_id, job_name),
    )


def last_beats(connection: psycopg.Connection[Any], run_ids: Sequence[str]) -> dict[str, LastBeat]:
    """The last heartbeat of each of these runs that ever beat."""
    with connection.cursor(row_factory=class_row(LastBeat)) as cursor:
        rows = cursor.execute(
            """
            SELECT run_id, beat_at,
                   extract(epoch FROM clock_timestamp() - beat_at)::float8 AS age_seconds
            FROM benchsync.run_heartbeats WHERE run_id = ANY(%s)
            """,
            (list(run_ids),),
        ).fetchall()
    return {row.run_id: row for row in rows}


def forget_older_than(connection: psycopg.Connection[Any], seconds: float) -> int:
    """Delete the rows of runs silent for ``seconds``: long ended (a run still in flight without
    a row is judged from its start, so forgetting never hides an orphan)."""
    return connection.execute(
        "DELETE FROM benchsync.run_heartbeats"
        " WHERE beat_at < clock_timestamp() - make_interval(secs => %s)",
        (seconds,),
    ).rowcount

"""``benchsync.benchling_outage``: whether Benchling answers, as the last calls found it.

A row exists while Benchling is unavailable (every process calling it reports through
``OutageRecorder``); the inbox sensor then lets one sync run at a time probe, the failure
sensor spends no attempt, and ``benchsync status`` and the ``benchling_answers`` check say so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class Outage:
    since: datetime
    last_error: str
    updated_at: datetime


def current(connection: psycopg.Connection[Any]) -> Outage | None:
    """The outage under way, or None while Benchling answers."""
    with connection.cursor(row_factory=class_row(Outage)) as cursor:
        return cursor.execute(
            "SELECT since, last_error, updated_at FROM benchsync.benchling_outage"
        ).fetchone()


def begin(connection: psycopg.Connection[Any], error: str) -> None:
    """Record that Benchling did not answer (an outage under way keeps its start)."""
    connection.execute(
        """
        INSERT INTO benchsync.benchling_outage (since, last_error, updated_at)
        VALUES (now(), %s, now())
        ON CONFLICT (singleton) DO UPDATE SET last_error = EXCLUDED.last_error, updated_at = now()
        """,
        (error,),
    )


def end(connection: psycopg.Connection[Any]) -> bool:
    """Record that Benchling answers; True when an outage was under way."""
    return connection.execute("DELETE FROM benchsync.benchling_outage").rowcount > 0


class OutageRecorder:
    """Writes what a process's calls find, only when it differs from what it wrote last (so a
    healthy process writes once, not per request)."""

    def __init__(
        self, transaction: Callable[[], AbstractContextManager[psycopg.Connection[Any]]]
    ) -> None:
        self._transaction = transaction
        self._lock = threading.Lock()
        self._unavailable: bool | None = None  # what this process wrote last

    def unavailable(self, error: str) -> None:
        with self._lock:
            self._unavailable = True
            with self._transaction() as connection:
                begin(connection, error)

    def answered(self) -> None:
        with self._lock:
            if self._unavailable is False:
                return
            self._unavailable = False
            with self._transaction() as connection:
                end(connection)

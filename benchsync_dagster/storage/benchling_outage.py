"""``benchsync.benchling_outage``: whether Benchling answers, as the last calls found it.

A row exists while Benchling is unavailable (every process calling it reports through
``OutageRecorder``); the inbox sensor then lets one sync run at a time probe, the failure
sensor spends no attempt, and ``benchsync status`` and the ``benchling_answers`` check say so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

_log = logging.getLogger(__name__)


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
    """Writes what a process's calls find, only when it differs from what it wrote last, or
    every ``recheck_seconds`` (another process may have recorded an outage this one does not
    see), so a healthy process writes seldom, not per request. A write that fails is logged
    and tried at the next call: it never fails the call whose answer it records."""

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[psycopg.Connection[Any]]],
        recheck_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transaction = transaction
        self._recheck_seconds = recheck_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._unavailable: bool | None = None  # what this process wrote last
        self._written_at = 0.0

    def unavailable(self, error: str) -> None:
        self._write(True, lambda connection: begin(connection, error))

    def answered(self) -> None:
        with self._lock:
            fresh = self._clock() - self._written_at < self._recheck_seconds
            if self._unavailable is False and fresh:
                return
        self._write(False, end)

    def _write(
        self, unavailable: bool, statement: Callable[[psycopg.Connection[Any]], object]
    ) -> None:
        with self._lock:
            try:
                with self._transaction() as connection:
                    statement(connection)
            except psycopg.Error as failure:
                _log.warning("could not record whether Benchling answers: %s", failure)
                return
            self._unavailable, self._written_at = unavailable, self._clock()

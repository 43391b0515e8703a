"""The worker's Postgres connection pool, opened on first use (after gunicorn forks the worker).

Timeouts are short so that an unreachable database turns into a 503 within about a second,
well inside Benchling's 3 s limit, and the pool reconnects by itself when the database returns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from benchsync_core.database import DatabaseUnavailable

logger = logging.getLogger(__name__)

# How long a request waits for a pooled connection before answering 503.
CONNECTION_WAIT_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 2
STATEMENT_TIMEOUT_MS = 2000
# A failed reconnection is abandoned after this long, and the next request starts a fresh one:
# this bounds the pool's exponential backoff, so recovery follows the database within seconds.
RECONNECT_GIVE_UP_SECONDS = 5.0

Result = TypeVar("Result")
Connection = psycopg.Connection[tuple[object, ...]]


class LazyPool:
    """A ``ConnectionPool`` made by the first ``run`` in this process, shared by its threads."""

    def __init__(self, database_url: str, max_size: int) -> None:
        self._database_url = database_url
        self._max_size = max_size
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None

    def run(self, work: Callable[[Connection], Result]) -> Result:
        """``work(connection)`` in autocommit mode, retried once if the pooled connection was stale.

        Raises DatabaseUnavailable (the bridge answers 503, and Benchling redelivers) when
        Postgres does not answer in time. A limit the statement itself exceeds is no outage:
        it is raised as it is (the bridge answers 500), as no redelivery would mend it.

        ``work`` must be idempotent: a connection can break after the server committed.
        """
        try:
            try:
                return self._attempt(work)
            except _StaleConnection:
                # The pool dropped a connection a database restart broke; a fresh one may work.
                return self._attempt(work)
        except psycopg.errors.ProgramLimitExceeded:
            raise
        except psycopg.OperationalError as error:  # PoolTimeout included
            raise DatabaseUnavailable(f"{type(error).__name__}: {error}") from error

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _opened(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self._database_url,
                    min_size=1,
                    max_size=self._max_size,
                    timeout=CONNECTION_WAIT_SECONDS,
                    reconnect_timeout=RECONNECT_GIVE_UP_SECONDS,
                    kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS},
                    configure=_configure,
                    open=False,
                    name="webhook-inbox",
                )
                # wait=False: a database that is down now must not stop the worker from starting.
                self._pool.open(wait=False)
            return self._pool

    def _attempt(self, work: Callable[[Connection], Result]) -> Result:
        with self._opened().connection() as connection:
            try:
                return work(connection)
            except psycopg.OperationalError as error:
                if connection.broken:
                    raise _StaleConnection(str(error)) from error
                raise


class _StaleConnection(psycopg.OperationalError):
    """The connection died under the statement (the server restarted or dropped it)."""


def _configure(connection: Connection) -> None:
    # A hung statement must not hold the answer to Benchling past its 3 s limit.
    connection.execute(
        "SELECT set_config('statement_timeout', %s, false)", (str(STATEMENT_TIMEOUT_MS),)
    )

"""``benchsync.benchling_budget``: the deployment-wide Benchling rate budget.

A slot is a moment (the database server's clock, in epoch seconds) at which one request may go.
Taking one locks the tenant's budget for the length of a transaction, so concurrent processes
line up: each gets the earliest moment that keeps every window within the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import psycopg

# pg_advisory_xact_lock's first key: the budget's locks, apart from others' ("bdgt").
LOCK_CLASS = 0x62646774


class PostgresBudget:
    """``rate_limit`` requests per ``window_seconds`` for ``tenant``, shared through Postgres."""

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[psycopg.Connection[Any]]],
        tenant: str,
        rate_limit: int,
        window_seconds: float,
    ) -> None:
        self._transaction = transaction
        self._tenant = tenant
        self._rate_limit = rate_limit
        self._window = window_seconds

    def reserve(self) -> float:
        with self._transaction() as connection:
            # The slot statement must see what the last holder of the lock committed: its
            # snapshot has to be taken after the lock is granted, as READ COMMITTED does.
            connection.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            connection.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS, self._tenant)
            )
            row = connection.execute(
                """
                WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now),
                forgotten AS (
                    DELETE FROM benchsync.benchling_budget
                    WHERE tenant = %(tenant)s AND slot <= (SELECT now FROM clock) - %(window)s
                ),
                kept AS (
                    SELECT slot FROM benchsync.benchling_budget
                    WHERE tenant = %(tenant)s AND slot > (SELECT now FROM clock) - %(window)s
                    ORDER BY slot DESC OFFSET %(limit)s - 1 LIMIT 1
                ),
                taken AS (
                    INSERT INTO benchsync.benchling_budget (tenant, slot)
                    SELECT %(tenant)s, greatest(
                        (SELECT now FROM clock), (SELECT slot FROM kept) + %(window)s)
                    RETURNING slot
                )
                SELECT (SELECT slot FROM taken) - (SELECT now FROM clock)
                """,
                {"tenant": self._tenant, "window": self._window, "limit": self._rate_limit},
            ).fetchone()
        assert row is not None
        return max(0.0, float(row[0]))

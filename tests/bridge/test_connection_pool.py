"""The bridge's connection pool tells an outage (503, Benchling redelivers) from a statement no
redelivery would mend (500), against a real Postgres."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from benchsync_core.database import DatabaseUnavailable
from webhook_sensor_bridge.connections import LazyPool


@pytest.fixture
def pool(postgres_server_url: str) -> Iterator[LazyPool]:
    opened = LazyPool(postgres_server_url, max_size=1)
    yield opened
    opened.close()


def test_a_statement_past_a_postgres_limit_is_raised_as_it_is(pool: LazyPool) -> None:
    with pytest.raises(psycopg.errors.ProgramLimitExceeded):
        pool.run(lambda connection: connection.execute("SELECT array_fill(0, ARRAY[200000000])"))

    assert pool.run(lambda connection: connection.execute("SELECT 1").fetchone()) == (1,)


def test_a_statement_cut_off_by_the_timeout_is_an_outage(pool: LazyPool) -> None:
    with pytest.raises(DatabaseUnavailable, match="QueryCanceled"):
        pool.run(lambda connection: connection.execute("SELECT pg_sleep(3)"))

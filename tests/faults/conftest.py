"""A running stack per fault-test module: ``dagster dev`` with the project's dagster.yaml, the
bridge under gunicorn, the emulator (tests/support/stack.py). Each module breaks its stack on
purpose (kills processes, stops databases), so none shares one; each ends comparing the tables
with the tenant (tests/support/consistency.py)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from benchsync.demo.stack import Stack
from tests.support.stack import migrated_database, running_stack


@pytest.fixture(scope="module")
def stack_database_url(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="module")
def stack(
    stack_database_url: str, postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("stack")
    with running_stack(stack_database_url, postgres_server_url, home) as running:
        yield running


@pytest.fixture
def db(stack_database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection to the stack's database; each test looks only at the entities it made."""
    with psycopg.connect(stack_database_url, autocommit=True) as connection:
        yield connection

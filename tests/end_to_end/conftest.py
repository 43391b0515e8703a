"""One running stack for the end-to-end tests: ``dagster dev``, the bridge, the emulator, on
databases of their own (tests/support/stack.py)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from benchsync.demo.stack import Stack
from tests.support.stack import migrated_database, running_stack


@pytest.fixture(scope="session")
def stack_database_url(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="session")
def stack(
    stack_database_url: str, postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("stack")
    with running_stack(stack_database_url, postgres_server_url, home) as running:
        yield running


@pytest.fixture
def db(stack_database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection to the stack's database, emptied of nothing: the daemon is using it, and each
    test looks only at the entities it registered."""
    with psycopg.connect(stack_database_url, autocommit=True) as connection:
        yield connection

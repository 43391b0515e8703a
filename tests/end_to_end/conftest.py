"""One running stack for the end-to-end tests: ``dagster dev``, the bridge, the emulator.

Dagster's storage gets a database of its own, as in a deployment, so that nothing these tests do
to benchsync's tables touches the daemon's; and benchsync's database is the stack's own too: the
daemon keeps running until the session ends, and its sensors must not take the other tests'
inbox events for theirs.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from benchsync import migrations
from benchsync.demo.databases import dagster_storage_url
from benchsync.demo.stack import Stack
from tests.support.postgres import create_database, drop_database


@pytest.fixture(scope="session")
def stack_database_url(postgres_server_url: str) -> Iterator[str]:
    """benchsync's database for the stack, migrated."""
    url = create_database(postgres_server_url)
    migrations.upgrade(url)
    yield url
    drop_database(postgres_server_url, url)


@pytest.fixture(scope="session")
def stack(
    stack_database_url: str, postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    dagster_database = create_database(postgres_server_url)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("BENCHSYNC_DATABASE_URL", stack_database_url)
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_storage_url(dagster_database))
        with Stack.on_free_ports(tmp_path_factory.mktemp("stack")) as running:
            yield running
    drop_database(postgres_server_url, dagster_database)


@pytest.fixture
def db(stack_database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A connection to the stack's database, emptied of nothing: the daemon is using it, and each
    test looks only at the entities it registered."""
    with psycopg.connect(stack_database_url, autocommit=True) as connection:
        yield connection

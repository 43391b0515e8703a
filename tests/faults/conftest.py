"""A running stack per fault-test module: ``dagster dev`` with the project's dagster.yaml, the
bridge under gunicorn, the emulator. Each module breaks its stack on purpose (kills processes,
stops databases), so none shares one; each ends comparing the tables with the tenant
(tests/support/consistency.py)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from benchsync import migrations
from benchsync.demo.databases import dagster_storage_url
from benchsync.demo.stack import Stack
from tests.support.postgres import create_database, drop_database


@pytest.fixture(scope="module")
def stack_database_url(postgres_server_url: str) -> Iterator[str]:
    """benchsync's database for the module's stack, migrated."""
    url = create_database(postgres_server_url)
    migrations.upgrade(url)
    yield url
    drop_database(postgres_server_url, url)


@pytest.fixture(scope="module")
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
    """A connection to the stack's database; each test looks only at the entities it made."""
    with psycopg.connect(stack_database_url, autocommit=True) as connection:
        yield connection

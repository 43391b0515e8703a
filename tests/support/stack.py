"""A running stack (``benchsync.demo.stack.Stack``) on databases of its own, for the
end-to-end and fault tests' fixtures.

Dagster's storage gets a database of its own, as in a deployment, so that nothing the tests do
to benchsync's tables touches the daemon's; and benchsync's database is the stack's own too: the
daemon keeps running while the fixture lives, and its sensors must not take other tests' inbox
events for theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import psycopg
import pytest

from benchsync.demo.databases import dagster_storage_url
from benchsync.demo.stack import Stack
from benchsync_core import migrations
from tests.support.postgres import create_database, drop_database


@contextmanager
def migrated_database(postgres_server_url: str) -> Iterator[str]:
    """A database of its own on the test server, migrated, dropped afterwards."""
    url = create_database(postgres_server_url)
    migrations.upgrade(url)
    yield url
    drop_database(postgres_server_url, url)


@contextmanager
def running_stack(database_url: str, postgres_server_url: str, home: Path) -> Iterator[Stack]:
    """The stack on ``database_url``, its Dagster storage in a database made for it."""
    dagster_database = create_database(postgres_server_url)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("BENCHSYNC_DATABASE_URL", database_url)
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_storage_url(dagster_database))
        with Stack.on_free_ports(home) as running:
            yield running
    drop_database(postgres_server_url, dagster_database)


def stack_fixtures(scope: Literal["session", "module"]) -> tuple[Any, Any, Any]:
    """The fixtures ``stack_database_url``, ``stack`` and ``db`` at ``scope``: one stack for
    the session (end-to-end tests) or one per module (fault tests, which break theirs)."""

    @pytest.fixture(scope=scope)
    def stack_database_url(postgres_server_url: str) -> Iterator[str]:
        with migrated_database(postgres_server_url) as url:
            yield url

    @pytest.fixture(scope=scope)
    def stack(
        stack_database_url: str,
        postgres_server_url: str,
        tmp_path_factory: pytest.TempPathFactory,
    ) -> Iterator[Stack]:
        home = tmp_path_factory.mktemp("stack")
        with running_stack(stack_database_url, postgres_server_url, home) as running:
            yield running

    @pytest.fixture
    def db(stack_database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """A connection to the stack's database, emptied of nothing: the daemon is using it,
        and each test looks only at the entities it made."""
        with psycopg.connect(stack_database_url, autocommit=True) as connection:
            yield connection

    return stack_database_url, stack, db

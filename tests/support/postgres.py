"""A real Postgres for the test session, and a fresh database on it that is dropped afterwards.

The server is, in order: ``BENCHSYNC_TEST_DATABASE_URL`` when set; under pytest-xdist, a
cluster of the worker's own; this machine's server at 127.0.0.1:5432 when it answers; else an
embedded ``pgserver`` in a temporary folder.

Workers do not share a server because the inbox reads only below the cluster-wide snapshot xmin:
a transaction one worker's test holds open would hold back every other worker's sync.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from pgserver.postgres_server import get_server
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from benchsync_core import migrations
from tests.support.cluster import throwaway_cluster

TEST_SERVER_VARIABLE = "BENCHSYNC_TEST_DATABASE_URL"
LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A connection string for a database on a server where the tests may create databases."""
    explicit = os.environ.get(TEST_SERVER_VARIABLE, "").strip()
    if explicit:
        yield explicit
    elif os.environ.get("PYTEST_XDIST_WORKER"):
        with throwaway_cluster(durable=False) as cluster:
            yield cluster.url
    elif _answers(LOCAL_SERVER_URL):
        yield LOCAL_SERVER_URL
    else:
        server = get_server(tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete")
        yield server.get_uri()
        server.cleanup()


def create_database(server_url: str) -> str:
    name = f"benchsync_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(server_url, dbname=name)


def drop_database(server_url: str, database_url: str) -> None:
    name = str(conninfo_to_dict(database_url)["dbname"])
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test session."""
    url = create_database(postgres_server_url)
    yield url
    drop_database(postgres_server_url, url)


@pytest.fixture(scope="session")
def migrated_database_url(database_url: str) -> str:
    """The session's database with every migration applied."""
    migrations.upgrade(database_url)
    return database_url


@pytest.fixture
def db(migrated_database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection to the session's migrated database, every table emptied (and
    every typed table dropped) first."""
    with psycopg.connect(migrated_database_url, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
            " WHERE schemaname IN ('public', 'benchsync') AND tablename <> 'alembic_version'"
        ).fetchall()
        connection.execute(f"TRUNCATE {', '.join(name for (name,) in tables)} RESTART IDENTITY")
        # The typed tables go with their catalog.
        connection.execute("DROP SCHEMA benchling CASCADE")
        connection.execute("CREATE SCHEMA benchling")
        yield connection

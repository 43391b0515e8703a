"""Where benchsync's Postgres is, and bringing its schema up to date.

A "database URL" here is any libpq connection string: a ``postgresql://`` URL or key=value pairs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import psycopg
import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.pool import NullPool

DATABASE_URL_VARIABLE = "BENCHSYNC_DATABASE_URL"
# The inbox and the sync state live here, apart from the user's tables (DESIGN.md).
SYNC_SCHEMA = "benchsync"
MIGRATIONS_LOCATION = "benchsync_dagster:migrations"
EMBEDDED_DATA_DIR = Path(".benchsync") / "postgres"


class DatabaseUnavailable(RuntimeError):
    """The configured Postgres could not be reached."""


def database_url_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    return environ.get(DATABASE_URL_VARIABLE, "").strip() or None


def start_embedded_postgres(data_dir: Path = EMBEDDED_DATA_DIR) -> str:
    """Start (or join) the embedded Postgres in ``data_dir``; it stops when this process exits."""
    with warnings.catch_warnings():
        # Importing pgserver asks platformdirs for XDG_RUNTIME_DIR, which root sessions lack;
        # the fallback under /tmp serves pgserver's lock file just as well.
        warnings.filterwarnings("ignore", "XDG_RUNTIME_DIR is not set")
        from pgserver.postgres_server import get_server  # only needed when no URL is configured

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    return str(get_server(data_dir, cleanup_mode="stop").get_uri())


def resolve_database_url() -> str:
    """``BENCHSYNC_DATABASE_URL`` when set, else the embedded Postgres under ``.benchsync/``."""
    return database_url_from_env() or start_embedded_postgres()


def connect(database_url: str, **kwargs: object) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(database_url, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(f"cannot connect to {DATABASE_URL_VARIABLE}: {error}") from error


def _engine(database_url: str) -> sqlalchemy.Engine:
    # psycopg parses the URL itself, so any libpq form works, pgserver's socket URLs included.
    return sqlalchemy.create_engine(
        "postgresql+psycopg://", creator=lambda: connect(database_url), poolclass=NullPool
    )


def _alembic_config(connection: sqlalchemy.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_LOCATION)
    config.attributes["connection"] = connection
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply every migration up to ``revision``; running it again changes nothing."""
    with _engine(database_url).begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def downgrade(database_url: str, revision: str) -> None:
    with _engine(database_url).begin() as connection:
        command.downgrade(_alembic_config(connection), revision)


def current_revision(database_url: str) -> str | None:
    with _engine(database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table_schema": SYNC_SCHEMA})
        return context.get_current_revision()

"""benchsync's schema migrations (Alembic), applied by ``benchsync db upgrade``.

Each table's migrations live beside its statements, in the package that owns it; this package
holds only the Alembic environment that runs them all as one history, whose version table is
``benchsync.alembic_version``. Only this package (and the commands that call it) loads Alembic
and SQLAlchemy: the bridge never does.
"""

from __future__ import annotations

import os
from importlib import resources

import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.pool import NullPool

from benchsync_core.database import connect

# The inbox and the sync state live here, apart from the user's tables.
SYNC_SCHEMA = "benchsync"
# Every package that owns tables keeps their migrations in a `migrations` folder of its own.
VERSION_PACKAGES = ("webhook_sensor_bridge.inbox", "benchsync_dagster.storage")


def version_locations() -> list[str]:
    return [str(resources.files(package) / "migrations") for package in VERSION_PACKAGES]


def _engine(database_url: str) -> sqlalchemy.Engine:
    # psycopg parses the URL itself, so any libpq form works, pgserver's socket URLs included.
    return sqlalchemy.create_engine(
        "postgresql+psycopg://", creator=lambda: connect(database_url), poolclass=NullPool
    )


def _alembic_config(connection: sqlalchemy.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "benchsync_core:migrations")
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(version_locations()))
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

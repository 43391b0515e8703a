"""Where benchsync's Postgres is, and how every process reaches it.

A "database URL" here is any libpq connection string: a ``postgresql://`` URL or key=value pairs.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import psycopg

from benchsync_core import settings

EMBEDDED_DATA_DIR = Path(".benchsync") / "postgres"


class DatabaseUnavailable(RuntimeError):
    """Postgres could not be reached, or did not answer in time."""


def connect(database_url: str, **kwargs: object) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(database_url, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as error:
        raise DatabaseUnavailable(
            f"cannot connect to {settings.DATABASE_URL_VARIABLE}: {error}"
        ) from error


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
    return settings.optional(settings.DATABASE_URL_VARIABLE) or start_embedded_postgres()

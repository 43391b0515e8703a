"""The demo's databases: benchsync's (configured, or embedded) and Dagster's storage beside it,
and the URLs each user of them needs, built with libpq's and SQLAlchemy's own helpers."""

from __future__ import annotations

import psycopg
import sqlalchemy
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from benchsync_core import settings

DAGSTER_DATABASE = "dagster"
DAGSTER_URL_VARIABLE = "DAGSTER_POSTGRES_URL"


def dagster_database_url(database_url: str, embedded: bool) -> str:
    """Dagster's storage: DAGSTER_POSTGRES_URL, or its own database beside ours when embedded."""
    explicit = settings.optional(DAGSTER_URL_VARIABLE)
    if explicit:
        return explicit
    if not embedded:
        # Dagster's tables do not collide with ours (our migration versions live in benchsync).
        return dagster_storage_url(database_url)
    with psycopg.connect(database_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DAGSTER_DATABASE]
        ).fetchone()
        if not exists:
            create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DAGSTER_DATABASE))
            connection.execute(create)
    return dagster_storage_url(make_conninfo(database_url, dbname=DAGSTER_DATABASE))


def dagster_storage_url(conninfo: str) -> str:
    """A URL for dagster-postgres from any libpq connection string.

    Dagster's storage SQL needs the psycopg2 driver; a bare postgresql:// URL would pick psycopg 3
    under SQLAlchemy 2.1 and fail on its first query.
    """
    parts = {name: str(value) for name, value in conninfo_to_dict(conninfo).items()}
    host = parts.get("host")
    port = parts.get("port")
    socket_dir = host if host and host.startswith("/") else None
    url = sqlalchemy.URL.create(
        "postgresql+psycopg2",
        username=parts.get("user"),
        password=parts.get("password"),
        # A unix socket directory goes in the query string, where libpq reads it.
        host=None if socket_dir else host,
        port=int(port) if port and not socket_dir else None,
        database=parts.get("dbname"),
        query={"host": socket_dir} if socket_dir else {},
    )
    return url.render_as_string(hide_password=False)


def without_password(database_url: str) -> str:
    """The URL to show a person: a password in it never reaches the terminal."""
    parts = conninfo_to_dict(database_url)
    if not parts.pop("password", None):
        return database_url
    return make_conninfo("", **parts)  # psql then asks for it, or reads ~/.pgpass

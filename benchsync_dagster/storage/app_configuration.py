"""``benchsync.app_configuration``: the App configuration ``synced_benchling_data`` is built with.

One row: the "Synced Schema" and "Synced Field Data" last read from Benchling, when, and the
configuration the table's rows were last rebuilt for. A sync step reads it under a shared row
lock (``for_writing``) held until its rows are written; a rebuild takes the row for update
(``for_rebuild``), so the two never interleave and no row is written with a configuration that
a finished rebuild has replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row


@dataclass(frozen=True)
class SyncTarget:
    """Which schema feeds ``synced_benchling_data``, and which of its fields is the value (by its
    display name then, and its definition id: None when stored before ids were kept)."""

    schema_id: str
    field_name: str
    field_id: str | None = None


@dataclass(frozen=True)
class StoredConfiguration:
    app_id: str
    schema_id: str
    field_name: str
    read_at: datetime
    built_schema_id: str | None
    built_field_name: str | None
    field_id: str | None
    built_field_id: str | None

    @property
    def target(self) -> SyncTarget:
        return SyncTarget(self.schema_id, self.field_name, self.field_id)

    @property
    def built_for(self) -> SyncTarget | None:
        if self.built_schema_id is None or self.built_field_name is None:
            return None
        return SyncTarget(self.built_schema_id, self.built_field_name, self.built_field_id)


_SELECT = sql.SQL(
    "SELECT app_id, schema_id, field_name, read_at, built_schema_id, built_field_name,"
    " field_id, built_field_id FROM benchsync.app_configuration"
)


def _select(
    connection: psycopg.Connection[Any], lock: sql.Composable
) -> StoredConfiguration | None:
    with connection.cursor(row_factory=class_row(StoredConfiguration)) as cursor:
        return cursor.execute(_SELECT + lock).fetchone()


def current(connection: psycopg.Connection[Any]) -> StoredConfiguration | None:
    """The stored configuration, or None before it was first read."""
    return _select(connection, sql.SQL(""))


def for_writing(connection: psycopg.Connection[Any]) -> StoredConfiguration | None:
    """The stored configuration, locked against a rebuild until the transaction ends."""
    return _select(connection, sql.SQL(" FOR SHARE"))


def for_rebuild(connection: psycopg.Connection[Any]) -> StoredConfiguration | None:
    """The stored configuration, locked until the transaction ends: no sync step writes rows
    meanwhile, and one that has read it finishes first."""
    return _select(connection, sql.SQL(" FOR UPDATE"))


def database_now(connection: psycopg.Connection[Any]) -> datetime:
    """The database server's clock, which stamps ``read_at``."""
    row = connection.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None and isinstance(row[0], datetime)
    return row[0]


def store(
    connection: psycopg.Connection[Any], app_id: str, target: SyncTarget, read_at: datetime
) -> None:
    """Record the configuration read from Benchling from ``read_at`` on (the rebuild marker is
    kept), unless one read later is stored already: a slow reader never undoes a newer read."""
    connection.execute(
        """
        INSERT INTO benchsync.app_configuration AS stored
            (app_id, schema_id, field_name, field_id, read_at)
        VALUES (%s, %s, %s, %s, %s)
        ON CONFLICT (singleton) DO UPDATE SET
            app_id = EXCLUDED.app_id, schema_id = EXCLUDED.schema_id,
            field_name = EXCLUDED.field_name, field_id = EXCLUDED.field_id,
            read_at = EXCLUDED.read_at
        WHERE stored.read_at < EXCLUDED.read_at
        """,
        (app_id, target.schema_id, target.field_name, target.field_id, read_at),
    )


def mark_built(connection: psycopg.Connection[Any], target: SyncTarget) -> None:
    """Note that the table's rows now follow ``target``."""
    connection.execute(
        "UPDATE benchsync.app_configuration"
        " SET built_schema_id = %s, built_field_name = %s, built_field_id = %s",
        (target.schema_id, target.field_name, target.field_id),
    )

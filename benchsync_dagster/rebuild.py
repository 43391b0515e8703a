"""Rebuilding ``synced_benchling_data`` from the stored snapshots when the App configuration
names another schema or field: no Benchling call, one chunk of documents in memory at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from benchsync_dagster import mapping
from benchsync_dagster.storage import app_configuration, snapshots, synced_data, typed_tables
from benchsync_dagster.storage.app_configuration import SyncTarget

REBUILD_CHUNK = 5_000


@dataclass(frozen=True)
class Rebuild:
    target: SyncTarget
    previous: SyncTarget | None  # None: the rows had never been rebuilt for a configuration
    removed: int  # rows of another schema
    written: int


def rebuild_if_stale(connection: psycopg.Connection[Any], source: str) -> Rebuild | None:
    """When the rows were built for another configuration than the stored one, rebuild them
    (rows of other schemas removed, every snapshot of the schema mapped anew, its field read
    under every name it has had), holding the
    configuration's row lock so that no sync step writes meanwhile; None when nothing was due.
    Runs in the caller's transaction, which the lock lasts for."""
    stored = app_configuration.current(connection)
    if stored is None or stored.built_for == stored.target:
        return None
    stored = app_configuration.for_rebuild(connection)
    if stored is None or stored.built_for == stored.target:  # rebuilt while we waited
        return None
    target = stored.target
    removed = synced_data.delete_other_schemas(connection, target.schema_id)
    field_names = typed_tables.synced_field_names(connection, target)
    written = 0
    for chunk in snapshots.stored_of_schema(connection, target.schema_id, REBUILD_CHUNK):
        documents = [snapshot.document for snapshot in chunk]
        sources = {document["id"]: source for document in documents}
        frame = mapping.synced_data_frame(documents, field_names, sources)
        written += synced_data.upsert(connection, frame)
    app_configuration.mark_built(connection, target)
    return Rebuild(target, stored.built_for, removed, written)

"""How the poll and the reconciliation store a listing's documents (snapshots, typed tables,
the configured schema's rows) under the App configuration's lock, and which configured schema
every writer, the sync's too, writes rows for (``target_for_writing``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from benchsync_dagster import mapping
from benchsync_dagster.storage import app_configuration, snapshots, synced_data, typed_tables
from benchsync_dagster.storage.app_configuration import SyncTarget
from benchsync_dagster.typed.write import Described, TableWrite, write_typed


def target_for_writing(connection: psycopg.Connection[Any]) -> SyncTarget:
    """The stored App configuration, locked against a rebuild until the transaction ends."""
    stored = app_configuration.for_writing(connection)
    assert stored is not None, "refresh_app_configuration stores one first"
    return stored.target


def store_listed(
    connection: psycopg.Connection[Any],
    documents: Sequence[mapping.EntityDocument],
    sources: Mapping[str, str],
    entity_types: Mapping[str, str],
    described: Described,
) -> tuple[int, list[TableWrite]]:
    """A listing's documents written: their snapshots, their typed tables' rows (``described``:
    what Benchling said, before the transaction, of the schemas the catalog does not match),
    and the rows of those of the configured schema, with the configuration as it stands now
    (it may have changed since the listing began), locked against a rebuild until the
    transaction ends. Returns the snapshots written, and what was written to the typed
    tables."""
    stored = app_configuration.for_writing(connection)
    written = snapshots.upsert(connection, mapping.snapshot_frame(documents, sources, entity_types))
    typed_writes = write_typed(connection, documents, sources, entity_types, described)
    if stored is not None:
        of_schema = [d for d in documents if mapping.schema_id(d) == stored.schema_id]
        names = typed_tables.synced_field_names(connection, stored.target)
        synced_data.upsert(connection, mapping.synced_data_frame(of_schema, names, sources))
    return written, typed_writes

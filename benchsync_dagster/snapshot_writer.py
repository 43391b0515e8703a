"""A sync run's fetched documents, written as they arrive: to ``benchling_entity_snapshots`` and
the typed tables, each time the documents held reach a byte budget, so that a run's memory is
bounded by bytes whatever the documents (a batch of 2,000 megabase sequences is gigabytes).
Benchling is asked about schemas the typed tables' catalog does not match before each write's
transaction opens, never inside it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import psycopg

from benchsync_dagster import mapping
from benchsync_dagster.benchling.fetch import document_bytes
from benchsync_dagster.storage import snapshots
from benchsync_dagster.typed.write import (
    Describe,
    TableWrite,
    merged,
    unmatched_schemas,
    write_typed,
)

Transaction = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]


@dataclass
class SnapshotWriter:
    """Collects fetched documents and writes them, in a transaction of their own, before they
    would hold more than ``max_bytes`` (and at ``flush``): newest wins in each table, so writing
    a batch in several transactions ends as writing it in one would."""

    transaction: Transaction
    describe: Describe
    mirrored: frozenset[str] | None
    source_events: Mapping[str, str]
    max_bytes: int
    written: int = 0  # snapshots written
    flushes: int = 0
    entities: set[str] = field(default_factory=set)  # those stored, of mirrored schemas
    typed: list[TableWrite] = field(default_factory=list)  # one per typed table
    malformed: dict[str, str] = field(default_factory=dict)  # entity id → why not stored
    not_mirrored: dict[str, str] = field(default_factory=dict)  # entity id → why not stored
    _held: list[mapping.EntityDocument] = field(default_factory=list)
    _types: dict[str, str] = field(default_factory=dict)
    _held_bytes: int = 0

    def add(self, documents: Sequence[mapping.EntityDocument], entity_type: str) -> None:
        """Hold these documents of one type, writing what is held whenever the next one would
        take it past the budget (a document larger than the budget is written alone)."""
        for document in documents:
            size = document_bytes(document)
            if self._held and self._held_bytes + size > self.max_bytes:
                self.flush()
            self._held.append(document)
            self._types[str(document.get("id"))] = entity_type
            self._held_bytes += size

    def flush(self) -> None:
        """Write what is held, and let go of it."""
        if not self._held:
            return
        held, types = self._held, self._types
        self._held, self._types, self._held_bytes = [], {}, 0
        documents, malformed = mapping.well_formed(held)
        del held
        documents, not_mirrored = mapping.of_schemas(documents, self.mirrored)
        # A batch may fetch an entity twice; one statement may not write its row twice.
        documents = mapping.newest_per_entity(documents)
        self.malformed.update(malformed)
        self.not_mirrored.update(not_mirrored)
        with self.transaction() as connection:
            unmatched = unmatched_schemas(connection, documents)
        # Outside any transaction: a call may wait for a rate slot.
        described = {schema_id: self.describe(schema_id) for schema_id in unmatched}
        with self.transaction() as connection:
            frame = mapping.snapshot_frame(documents, self.source_events, types)
            self.written += snapshots.upsert(connection, frame)
            del frame  # its JSON copy of the documents, before the typed rows are made
            typed = write_typed(connection, documents, self.source_events, types, described)
        self.typed = merged([*self.typed, *typed])
        self.entities.update(str(document["id"]) for document in documents)
        self.flushes += 1

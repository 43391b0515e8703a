"""What a reconciliation finds when it compares a page of listed entities with what is stored.

Pure functions: the Dagster asset lists pages and writes; this decides what counts as drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from benchsync_dagster.mapping import EntityDocument, archive_reason


@dataclass
class Drift:
    """Rows that disagreed with Benchling, by kind; each was repaired."""

    missing: int = 0  # an entity with no row
    stale: int = 0  # a row older than the entity's modifiedAt
    archived: int = 0  # an entity archived in Benchling, not yet in its row
    vanished: int = 0  # a row whose entity a full listing no longer returns

    @property
    def total(self) -> int:
        return self.missing + self.stale + self.archived + self.vanished

    def add(self, other: Drift) -> None:
        self.missing += other.missing
        self.stale += other.stale
        self.archived += other.archived
        self.vanished += other.vanished

    def as_metadata(self) -> dict[str, int]:
        return {
            "missing": self.missing,
            "stale": self.stale,
            "archived": self.archived,
            "vanished": self.vanished,
        }


def find_drift(
    documents: Sequence[EntityDocument],
    stored: Mapping[str, tuple[datetime, bool]],
    drift: Drift,
) -> list[EntityDocument]:
    """Count this page's drift into ``drift``; returns the documents whose rows need writing."""
    to_repair = []
    for document in documents:
        row = stored.get(document["id"])
        archived = archive_reason(document) is not None
        if row is None:
            drift.missing += 1
        elif pd.Timestamp(row[0]) < pd.Timestamp(document["modifiedAt"]):
            if archived and not row[1]:
                drift.archived += 1
            else:
                drift.stale += 1
        elif archived and not row[1]:
            drift.archived += 1
        else:
            continue
        to_repair.append(document)
    return to_repair


def oldest_copies(
    snapshot_rows: Mapping[str, tuple[datetime, bool]],
    synced_rows: Mapping[str, tuple[datetime, bool]],
    synced_ids: Sequence[str],
) -> dict[str, tuple[datetime, bool]]:
    """Each entity's stored (modified_at, archived) to compare with Benchling: its snapshot's,
    or for an entity of the configured schema (``synced_ids``) the older of its snapshot and
    its ``synced_benchling_data`` row — and none when either is missing."""
    stored = dict(snapshot_rows)
    for entity_id in synced_ids:
        snapshot, row = stored.get(entity_id), synced_rows.get(entity_id)
        if snapshot is None or row is None:
            stored.pop(entity_id, None)
        else:
            stored[entity_id] = (min(snapshot[0], row[0]), snapshot[1] and row[1])
    return stored

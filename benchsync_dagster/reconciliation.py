"""What a reconciliation finds when it compares a page of listed entities with what is stored.

Pure functions: the Dagster asset lists pages and writes; this decides what counts as drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from benchsync_dagster.mapping import EntityDocument, archive_reason
from benchsync_dagster.storage import StoredVersion


@dataclass
class Drift:
    """Rows that disagreed with Benchling, by kind; each was repaired."""

    missing: int = 0  # an entity with no row
    stale: int = 0  # a row older than the entity's modifiedAt
    archived: int = 0  # an entity archived in Benchling, not yet in its row
    vanished: int = 0  # a row whose entity a full listing no longer returns
    reappeared: int = 0  # a row archived as vanished whose entity is returned again

    @property
    def total(self) -> int:
        return self.missing + self.stale + self.archived + self.vanished + self.reappeared

    def add(self, other: Drift) -> None:
        self.missing += other.missing
        self.stale += other.stale
        self.archived += other.archived
        self.vanished += other.vanished
        self.reappeared += other.reappeared

    def as_metadata(self) -> dict[str, int]:
        return {
            "missing": self.missing,
            "stale": self.stale,
            "archived": self.archived,
            "vanished": self.vanished,
            "reappeared": self.reappeared,
        }


def find_drift(
    documents: Sequence[EntityDocument],
    stored: Mapping[str, StoredVersion],
    drift: Drift,
) -> list[EntityDocument]:
    """Count this page's drift into ``drift``; returns the documents whose rows need writing."""
    to_repair = []
    for document in documents:
        row = stored.get(document["id"])
        archived = archive_reason(document) is not None
        listed_at = pd.Timestamp(document["modifiedAt"])
        if row is None:
            drift.missing += 1
        elif row.vanished and pd.Timestamp(row.modified_at) <= listed_at:
            drift.reappeared += 1  # returned again: Benchling's document replaces ours
        elif pd.Timestamp(row.modified_at) < listed_at:
            if archived and not row.archived:
                drift.archived += 1
            else:
                drift.stale += 1
        elif archived and not row.archived:
            drift.archived += 1
        else:
            continue
        to_repair.append(document)
    return to_repair


def oldest_copies(
    snapshot_rows: Mapping[str, StoredVersion],
    synced_rows: Mapping[str, StoredVersion],
    synced_ids: Sequence[str],
) -> dict[str, StoredVersion]:
    """Each entity's stored version to compare with Benchling: its snapshot's, or for an
    entity of the configured schema (``synced_ids``) the older of its snapshot and its
    ``synced_benchling_data`` row (archived if both are, vanished if either is) — and none
    when either is missing."""
    stored = dict(snapshot_rows)
    for entity_id in synced_ids:
        snapshot, row = stored.get(entity_id), synced_rows.get(entity_id)
        if snapshot is None or row is None:
            stored.pop(entity_id, None)
        else:
            stored[entity_id] = StoredVersion(
                min(snapshot.modified_at, row.modified_at),
                snapshot.archived and row.archived,
                snapshot.vanished or row.vanished,
            )
    return stored


@dataclass(frozen=True)
class Vanishing:
    """What a full listing of one entity type would archive as vanished."""

    entity_type: str
    listed: int  # entities the listing returned
    stored: int  # unarchived snapshots stored before it began
    unlisted: int  # of those, the ones it did not return

    def over_guard(self, max_percent: int) -> bool:
        """Whether archiving them would take more than ``max_percent`` of the type's mirrored
        entities — or all of them, however few: a listing that returns none of a type's
        entities is more likely lost access than a tenant that archived them all."""
        if self.unlisted == 0:
            return False
        return self.unlisted >= self.stored or self.unlisted * 100 > self.stored * max_percent

    def describe(self) -> str:
        return (
            f"{self.entity_type}: Benchling listed {self.listed}, {self.stored} stored,"
            f" {self.unlisted} of them not returned"
        )

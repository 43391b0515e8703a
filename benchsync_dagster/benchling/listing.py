"""Listing the objects of one kind through benchling-sdk, a page at a time, with the filters the
poll and the reconciliation use: changed after a moment, of a schema, archived included."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from benchling_sdk.benchling import Benchling

from benchsync_core.kinds import Kind, ListFilter

BULK_GET_LIMIT = 100  # Benchling's page size and bulk-get maximum
# A listing since a watermark starts a little before it: a page more, and no entity missed
# because its modifiedAt tied the watermark's or reached Benchling late.
WATERMARK_OVERLAP = timedelta(minutes=5)


def modified_after(moment: datetime) -> str:
    """The list endpoints' ``modifiedAt`` filter for "changed after ``moment``"."""
    utc = moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"> {utc}"


@dataclass(frozen=True)
class ListFilters:
    """What a listing asks for; each filter set must be one the kind's list call takes."""

    modified_after: datetime | None = None  # None: whenever changed
    schema_id: str | None = None  # None: every schema
    archived_too: bool = True  # archived objects listed beside the others


def list_arguments(kind: Kind, filters: ListFilters) -> dict[str, Any]:
    """The keyword arguments of ``kind``'s list call for ``filters``, oldest change first where
    the kind can be listed by its change time. Raises ValueError naming a filter it lacks."""
    asked = {
        ListFilter.MODIFIED_AT: filters.modified_after is not None,
        ListFilter.SCHEMA_ID: filters.schema_id is not None,
        ListFilter.ARCHIVE_REASON: filters.archived_too,
    }
    lacking = [f.value for f, wanted in asked.items() if wanted and f not in kind.list_filters]
    if lacking:
        raise ValueError(f"{kind.name}'s list call has no {', '.join(lacking)} filter")
    arguments: dict[str, Any] = {"page_size": BULK_GET_LIMIT}
    if ListFilter.MODIFIED_AT in kind.list_filters:
        arguments["sort"] = f"{kind.modified_at_key}:asc"
    if filters.modified_after is not None:
        arguments["modified_at"] = modified_after(filters.modified_after)
    if filters.schema_id is not None:
        arguments["schema_id"] = filters.schema_id
    if filters.archived_too:
        arguments["archive_reason"] = "ANY_ARCHIVED_OR_NOT_ARCHIVED"
    return arguments


def listed(
    benchling: Benchling, kind: Kind, filters: ListFilters
) -> Iterator[list[dict[str, Any]]]:
    """The kind's objects ``filters`` let through, a page (≤ 100) of documents at a time, oldest
    change first."""
    pages = getattr(benchling, kind.service).list(**list_arguments(kind, filters))
    for page in pages:
        yield [item.to_dict() for item in page]

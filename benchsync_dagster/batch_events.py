"""A sync batch's inbox events: the entities they name, and what becomes of those whose entity
is not stored (dead-lettered, or ignored as of a schema ``BENCHSYNC_SCHEMAS`` leaves out), each
with its reason."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from benchsync_dagster.benchling.fetch import Wanted
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.inbox.event_types import SYNCED_ENTITY_EVENT_TYPES

NO_ENTITY = "the event names no entity (resourceId)"


def batch_entities(
    events: Sequence[inbox.InboxRow], extra_ids: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """The batch's entity ids (event order, then extras) and, per entity, its newest event."""
    source_events = {e.resource_id: e.webhook_id for e in events if e.resource_id}
    return list(dict.fromkeys([*source_events, *extra_ids])), source_events


def wanted_by_event(events: Sequence[inbox.InboxRow]) -> dict[str, Wanted]:
    """What each event asks to fetch, by webhook id: one ``Wanted`` per event, so that an event
    wrong about its entity's type sinks no other."""
    return {
        e.webhook_id: Wanted(e.resource_id, e.message_type, e.schema_id)
        for e in events
        if e.resource_id
    }


def oldest_event_age_seconds(events: Sequence[inbox.InboxRow]) -> float | None:
    if not events:
        return None
    oldest = min(event.received_at for event in events)
    return round((datetime.now(UTC) - oldest).total_seconds(), 3)


@dataclass(frozen=True)
class Unsynced:
    """The batch's events that store no entity, by reason: webhook ids."""

    dead: dict[str, list[str]]  # Benchling refused the entity, or its document is malformed
    without_entity: list[str]  # an entity event naming none: dead-lettered as ``NO_ENTITY``
    ignored: list[tuple[str, list[str]]]  # the entity's schema is not mirrored

    @property
    def dead_count(self) -> int:
        """Events dead-lettered for their entity (those naming none are not counted)."""
        return sum(len(webhook_ids) for webhook_ids in self.dead.values())


def unsynced(
    events: Sequence[inbox.InboxRow],
    wanted: Mapping[str, Wanted],
    refused: Mapping[Wanted, str],
    malformed: Mapping[str, str],
    not_mirrored: Mapping[str, str],
) -> Unsynced:
    """Which events of the batch store no entity, and why: ``refused`` holds what Benchling
    would not give (or no type was found for), ``malformed`` and ``not_mirrored`` the entities
    fetched but not stored (by id)."""
    dead: dict[str, list[str]] = {}
    for webhook_id, entity in wanted.items():
        reason = refused.get(entity) or malformed.get(entity.entity_id)
        if reason:
            dead.setdefault(reason, []).append(webhook_id)
    without_entity = [
        e.webhook_id
        for e in events
        if e.message_type in SYNCED_ENTITY_EVENT_TYPES and not e.resource_id
    ]
    ignored = [
        (reason, [e.webhook_id for e in events if e.resource_id == entity_id])
        for entity_id, reason in not_mirrored.items()
    ]
    return Unsynced(dead, without_entity, ignored)

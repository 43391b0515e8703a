"""Which message types the inbox keeps pending for the sync, and why it ignores the others.

The bridge decides with these when it records a webhook; the sensor with the same when it reads.
"""

from __future__ import annotations

# The entity events the sync fetches entities for.
SYNCED_ENTITY_EVENT_TYPES = frozenset(
    {"v2.entity.registered", "v3.customEntity.created", "v3.customEntity.updated"}
)
# Recorded as pending too: the sync refreshes its App configuration from it.
APP_CONFIGURATION_UPDATED = "v2-beta.app.configuration.updated"
RECORDED_EVENT_TYPES = SYNCED_ENTITY_EVENT_TYPES | {APP_CONFIGURATION_UPDATED}
APP_SIGNALS_CHANNEL = "app_signals"


def ignored_reason(message_type: str, channel: str | None) -> str | None:
    """Why benchsync records this message type without syncing it; None when it syncs it."""
    if message_type in RECORDED_EVENT_TYPES:
        return None
    if channel == APP_SIGNALS_CHANNEL:
        return f"app lifecycle signal {message_type} starts no sync"
    return f"message type {message_type} is not synced"

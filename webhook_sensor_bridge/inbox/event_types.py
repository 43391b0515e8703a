"""Which message types the inbox keeps pending for the sync, and why it ignores the others.

The bridge decides with these when it records a webhook; the sensor with the same when it reads.
"""

from __future__ import annotations

from benchsync_core.kinds import ANNOUNCING_EVENTS

# The entity events the sync fetches entities for: those that announce a kind benchsync mirrors.
SYNCED_ENTITY_EVENT_TYPES = ANNOUNCING_EVENTS

# Recorded as pending too: the sync refreshes its App configuration from it. Like every App
# signal, its message says only its type (and ``deprecated``): the type is all the sync needs.
APP_CONFIGURATION_UPDATED = "v2-beta.app.configuration.updated"
RECORDED_EVENT_TYPES = SYNCED_ENTITY_EVENT_TYPES | {APP_CONFIGURATION_UPDATED}
APP_SIGNALS_CHANNEL = "app_signals"
# The App lifecycle webhooks of Benchling's webhook document (v2, and the deprecated v0 forms):
# acknowledged and recorded ignored, whatever channel they come on.
APP_LIFECYCLE_SIGNALS = frozenset(
    {
        "v2.app.installed",
        "v2.app.activateRequested",
        "v2.app.deactivated",
        "v0.app.activateRequested",
        "v0.app.deactivated",
    }
)


def ignored_reason(message_type: str, channel: str | None) -> str | None:
    """Why benchsync records this message type without syncing it; None when it syncs it."""
    if message_type in RECORDED_EVENT_TYPES:
        return None
    if channel == APP_SIGNALS_CHANNEL or message_type in APP_LIFECYCLE_SIGNALS:
        return f"app lifecycle signal {message_type} starts no sync"
    return f"message type {message_type} is not synced"

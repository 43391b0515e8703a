"""The inbox, ``benchsync.inbox``: one row per webhook, recorded by the bridge before it answers.

Everything about the table is here: its migrations (``migrations/``, applied by ``benchsync db
upgrade``), its row types (``rows``) and every statement that touches it, grouped by who runs
it: the bridge's role records webhooks (``recording``, with the grant that allows exactly
that); the sync reads them in commit-safe order, settles, requeues and deletes them
(``queue``); the command line, the demo and the health checks count them (``reports``).
"""

from webhook_sensor_bridge.inbox.queue import (
    delete_finished,
    latest_app_id,
    mark_dead,
    mark_ignored,
    mark_synced,
    note_failed_attempt,
    pending_at_least,
    pending_behind,
    read_after,
    requeue,
    rows_by_webhook_id,
    txid_horizon,
)
from webhook_sensor_bridge.inbox.recording import grant_recording, ping, record
from webhook_sensor_bridge.inbox.reports import (
    count_by_state,
    dead_since,
    last_synced_at,
    oldest_pending_seconds,
    sync_latency_percentiles,
)
from webhook_sensor_bridge.inbox.rows import (
    BatchSpan,
    Envelope,
    InboxBatch,
    InboxCounts,
    InboxEvent,
    InboxRow,
    ReadPosition,
    Replay,
)

__all__ = [
    "BatchSpan",
    "Envelope",
    "InboxBatch",
    "InboxCounts",
    "InboxEvent",
    "InboxRow",
    "ReadPosition",
    "Replay",
    "count_by_state",
    "dead_since",
    "delete_finished",
    "grant_recording",
    "last_synced_at",
    "latest_app_id",
    "mark_dead",
    "mark_ignored",
    "mark_synced",
    "note_failed_attempt",
    "oldest_pending_seconds",
    "pending_at_least",
    "pending_behind",
    "ping",
    "read_after",
    "record",
    "requeue",
    "rows_by_webhook_id",
    "sync_latency_percentiles",
    "txid_horizon",
]

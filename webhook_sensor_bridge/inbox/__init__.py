"""The inbox, ``benchsync.inbox``: one row per webhook, recorded by the bridge before it answers.

Everything about the table is here: its migrations (``migrations/``, applied by ``benchsync db
upgrade``), its row types (``rows``) and every statement that touches it (``statements``). The
bridge records webhooks; the sensor reads them in commit-safe order and settles each; the
command line counts and requeues them.
"""

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
from webhook_sensor_bridge.inbox.statements import (
    count_by_state,
    dead_since,
    delete_finished,
    grant_recording,
    last_synced_at,
    latest_app_id,
    mark_dead,
    mark_ignored,
    mark_synced,
    note_failed_attempt,
    oldest_pending_seconds,
    pending_at_least,
    pending_behind,
    ping,
    read_after,
    record,
    requeue,
    rows_by_webhook_id,
    sync_latency_percentiles,
    txid_horizon,
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

"""``benchsync status``: the inbox's counts by state, as JSON or as a short table."""

from __future__ import annotations

import json
from typing import Any

from webhook_sensor_bridge.inbox import InboxCounts

STATES = ("pending", "synced", "ignored", "dead")


def status_document(counts: InboxCounts) -> dict[str, Any]:
    return {
        "events": {"total": counts.total, **{state: getattr(counts, state) for state in STATES}},
        "oldest_pending_seconds": counts.oldest_pending_seconds,
    }


def render_json(counts: InboxCounts) -> str:
    return json.dumps(status_document(counts), indent=2)


def render_table(counts: InboxCounts) -> str:
    rows = [(state, str(getattr(counts, state))) for state in STATES]
    rows.append(("total", str(counts.total)))
    oldest = counts.oldest_pending_seconds
    rows.append(("oldest pending", "-" if oldest is None else f"{oldest:.0f} s"))
    width = max(len(label) for label, _ in rows)
    lines = ["inbox events"] + [f"  {label:<{width}}  {value:>8}" for label, value in rows]
    return "\n".join(lines)

"""``benchsync status``: the inbox by state, the last sync, the last reconciliation, and
whether Benchling answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from benchsync_dagster.storage import benchling_outage, reconciliations
from webhook_sensor_bridge import inbox

STATES = ("pending", "synced", "ignored", "dead")


@dataclass(frozen=True)
class Status:
    counts: inbox.InboxCounts
    last_synced_at: datetime | None
    last_reconciliation: reconciliations.Reconciliation | None
    outage: benchling_outage.Outage | None


def read_status(connection: psycopg.Connection[Any]) -> Status:
    return Status(
        counts=inbox.count_by_state(connection),
        last_synced_at=inbox.last_synced_at(connection),
        last_reconciliation=reconciliations.latest(connection),
        outage=benchling_outage.current(connection),
    )


def status_document(status: Status) -> dict[str, Any]:
    counts, reconciliation, outage = status.counts, status.last_reconciliation, status.outage
    return {
        "events": {"total": counts.total, **{state: getattr(counts, state) for state in STATES}},
        "oldest_pending_seconds": counts.oldest_pending_seconds,
        "last_synced_at": _iso(status.last_synced_at),
        "last_reconciliation": None
        if reconciliation is None
        else {
            "started_at": _iso(reconciliation.started_at),
            "mode": reconciliation.mode,
            "listed": reconciliation.listed,
            "drift": {
                "missing": reconciliation.missing,
                "stale": reconciliation.stale,
                "archived": reconciliation.archived,
                "vanished": reconciliation.vanished,
            },
        },
        "benchling": {"answering": True}
        if outage is None
        else {
            "answering": False,
            "unavailable_since": _iso(outage.since),
            "last_error": outage.last_error,
        },
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def render_json(status: Status) -> str:
    return json.dumps(status_document(status), indent=2)


def render_table(status: Status) -> str:
    document = status_document(status)
    rows = [(state, str(count)) for state, count in document["events"].items()]
    oldest = status.counts.oldest_pending_seconds
    rows.append(("oldest pending", "-" if oldest is None else f"{oldest:.0f} s"))
    rows.append(("last synced", document["last_synced_at"] or "never"))
    reconciliation = document["last_reconciliation"]
    if reconciliation is None:
        rows.append(("last reconciliation", "never"))
    else:
        drift = ", ".join(f"{kind} {count}" for kind, count in reconciliation["drift"].items())
        rows.append(("last reconciliation", f"{reconciliation['started_at']} ({drift})"))
    benchling = document["benchling"]
    rows.append(
        (
            "benchling",
            "answering"
            if benchling["answering"]
            else f"unavailable since {benchling['unavailable_since']}: {benchling['last_error']}"
            " (sync paused)",
        )
    )
    width = max(len(label) for label, _ in rows)
    return "\n".join(["benchsync"] + [f"  {label:<{width}}  {value}" for label, value in rows])

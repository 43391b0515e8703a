"""``benchsync status``: the inbox by state, the last sync, the last reconciliation, whether
Benchling answers, and what is mirrored of each entity type and schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from benchsync_dagster.storage import (
    app_configuration,
    benchling_outage,
    poll_watermarks,
    reconciliations,
    snapshots,
    typed_tables,
)
from benchsync_dagster.typed.catalog import TypedTable
from webhook_sensor_bridge import inbox

STATES = ("pending", "synced", "ignored", "dead")


DRIFT_KINDS = ("missing", "stale", "archived", "vanished", "reappeared")
# Where each schema's raw rows are: the snapshots hold every entity type and schema.
MIRROR_TABLE = snapshots.TABLE


@dataclass(frozen=True)
class Status:
    counts: inbox.InboxCounts
    last_synced_at: datetime | None
    last_reconciliation: list[reconciliations.Reconciliation]  # a row per type it listed
    outage: benchling_outage.Outage | None
    mirrored: list[snapshots.SchemaMirror]
    # Per entity type, the moment before which every change is known stored: when the latest
    # listing of the type to its end (a poll or a reconciliation) began.
    listed_through: dict[str, datetime]
    read_at: datetime
    typed: dict[str, TypedTable]  # each schema's typed table, by schema id


def read_status(connection: psycopg.Connection[Any]) -> Status:
    listed_through = poll_watermarks.polled_at(connection)
    for entity_type, moment in reconciliations.reconciled_through(connection).items():
        listed_through[entity_type] = max(moment, listed_through.get(entity_type, moment))
    return Status(
        counts=inbox.count_by_state(connection),
        last_synced_at=inbox.last_synced_at(connection),
        last_reconciliation=reconciliations.latest_run(connection),
        outage=benchling_outage.current(connection),
        mirrored=snapshots.by_schema(connection),
        listed_through=listed_through,
        read_at=app_configuration.database_now(connection),
        typed=typed_tables.load(connection),
    )


def status_document(status: Status) -> dict[str, Any]:
    counts, outage = status.counts, status.outage
    return {
        "events": {"total": counts.total, **{state: getattr(counts, state) for state in STATES}},
        "oldest_pending_seconds": counts.oldest_pending_seconds,
        "last_synced_at": _iso(status.last_synced_at),
        "last_reconciliation": _reconciliation_document(status.last_reconciliation),
        "benchling": {"answering": True}
        if outage is None
        else {
            "answering": False,
            "unavailable_since": _iso(outage.since),
            "last_error": outage.last_error,
        },
        "tables": [_table_document(status, mirror) for mirror in status.mirrored],
    }


def _reconciliation_document(rows: list[reconciliations.Reconciliation]) -> dict[str, Any] | None:
    if not rows:
        return None
    return {
        "started_at": _iso(rows[0].started_at),
        "mode": rows[0].mode,
        "listed": sum(row.listed for row in rows),
        "drift": {kind: sum(getattr(row, kind) for row in rows) for kind in DRIFT_KINDS},
        # Not returned by Benchling, yet not archived: more of their type than the guard allows.
        "withheld": {row.entity_type: row.withheld for row in rows if row.withheld},
    }


def _table_document(status: Status, mirror: snapshots.SchemaMirror) -> dict[str, Any]:
    """One schema's mirror; its lag is how long ago its type was last listed to the end (a
    change that sends an event usually arrives sooner: see ``oldest_pending_seconds``)."""
    listed_through = status.listed_through.get(mirror.entity_type)
    typed = status.typed.get(mirror.schema_id or "")
    return {
        "schema_id": mirror.schema_id,
        "schema_name": mirror.schema_name,
        "entity_type": mirror.entity_type,
        # Its typed table (the raw snapshots until one is made), and the view without archived.
        "table": typed_tables.qualified_name(typed.table_name) if typed else MIRROR_TABLE,
        "view": typed_tables.qualified_name(typed.view_name) if typed else None,
        "rows": mirror.rows,
        "newest_modified_at": _iso(mirror.newest_modified_at),
        "lag_seconds": None
        if listed_through is None
        else round(max(0.0, (status.read_at - listed_through).total_seconds()), 1),
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
        withheld = "".join(
            f"; {entity_type}: {count} not returned, none archived (over the guard)"
            for entity_type, count in reconciliation["withheld"].items()
        )
        rows.append(("last reconciliation", f"{reconciliation['started_at']} ({drift}{withheld})"))
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
    lines = ["benchsync"] + [f"  {label:<{width}}  {value}" for label, value in rows]
    return "\n".join(lines + _tables_lines(document["tables"]))


def _tables_lines(tables: list[dict[str, Any]]) -> list[str]:
    if not tables:
        return ["", "mirrored: nothing yet"]
    header = ("entity type", "schema", "table", "rows", "newest modifiedAt", "lag")
    rows = [
        (
            table["entity_type"],
            f"{table['schema_name'] or '-'} ({table['schema_id'] or 'no schema'})",
            table["table"],
            str(table["rows"]),
            table["newest_modified_at"] or "-",
            "-" if table["lag_seconds"] is None else f"{table['lag_seconds']:.0f} s",
        )
        for table in tables
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["", f"mirrored (raw snapshots in {MIRROR_TABLE})"] + [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]

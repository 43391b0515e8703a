"""What the demo prints: a progress line while events are synced, then a summary."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from benchsync.demo.databases import without_password
from benchsync.demo.processes import DemoError
from benchsync.demo.stack import Stack
from benchsync_dagster.batch_runs import ATTEMPT_TAG
from benchsync_dagster.defs.sync.jobs import sync_job
from benchsync_dagster.storage import snapshots, synced_data, typed_tables
from benchsync_dagster.storage.typed_tables import qualified_name
from webhook_sensor_bridge import inbox


@dataclass(frozen=True)
class Progress:
    received: int
    synced: int
    dead: int

    def render(self, expected: int, width: int = 30) -> str:
        done = self.synced + self.dead
        filled = int(width * done / expected) if expected else width
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] events received {self.received}/{expected}"
            f"  rows synced {self.synced}/{expected}  dead letters {self.dead}"
        )


def _progress(database_url: str, entity_ids: list[str]) -> Progress:
    with psycopg.connect(database_url) as connection:
        counts = inbox.count_by_state(connection, entity_ids)
    return Progress(received=counts.total, synced=counts.synced, dead=counts.dead)


def wait_until_synced(stack: Stack, entity_ids: list[str], timeout: float) -> Progress:
    """Show progress until every entity's event is synced or dead-lettered."""
    interactive = sys.stdout.isatty()
    deadline = time.monotonic() + timeout
    last_printed = 0.0
    while True:
        stack.check_children()
        progress = _progress(stack.database_url, entity_ids)
        finished = progress.received >= len(entity_ids) and (
            progress.synced + progress.dead >= progress.received
        )
        if interactive:
            print(f"\r{progress.render(len(entity_ids))}", end="", flush=True)
        elif finished or time.monotonic() - last_printed >= 5:
            print(progress.render(len(entity_ids)), flush=True)
            last_printed = time.monotonic()
        if finished:
            if interactive:
                print()
            return progress
        if time.monotonic() > deadline:
            print()
            raise DemoError(
                f"not synced within {timeout:.0f} s ({progress.render(len(entity_ids))});"
                f" see the runs at {stack.dagster_url}/runs and the logs in {stack.home / 'logs'}"
            )
        time.sleep(0.5)


_SYNC_RUNS_QUERY = """
query SyncRuns($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    ... on Runs { results { status tags { key value } } }
    ... on PythonError { message }
  }
}
"""


def show_an_edit(stack: Stack, entity_ids: list[str], timeout: float) -> str:
    """Edit a few custom entities in the emulator, as a scientist would in Benchling, and wait
    until their typed rows hold the new values (through webhook, sensor and sync run)."""
    assert stack.emulator is not None
    tenant = stack.emulator.tenant
    edited = [entity_id for entity_id in entity_ids if entity_id.startswith("bfi_")][:3]
    started = time.monotonic()
    for number, entity_id in enumerate(edited, 1):
        tenant.update_entity(entity_id, {"fields": {"Description": {"value": f"edited {number}"}}})
    with psycopg.connect(stack.database_url, autocommit=True) as connection:
        while True:
            (updated,) = connection.execute(
                "SELECT count(*) FROM benchling.emulated_sample"
                " WHERE id = ANY(%s) AND description LIKE 'edited %%'",
                [edited],
            ).fetchone() or (0,)
            if updated == len(edited):
                break
            if time.monotonic() - started > timeout:
                raise DemoError(f"{len(edited) - updated} edited entities not updated in time")
            time.sleep(0.5)
    return (
        f"edited {len(edited)} entities in the emulator: benchling.emulated_sample held their"
        f" new Description {time.monotonic() - started:.1f} s later"
    )


def _sync_runs(stack: Stack, since: datetime) -> dict[str, int]:
    """The sync runs since ``since``, asked of the Dagster webserver's GraphQL API."""
    run_filter = {"pipelineName": sync_job.name, "createdAfter": since.timestamp()}
    answer = stack.graphql(_SYNC_RUNS_QUERY, {"filter": run_filter})["runsOrError"]
    if "results" not in answer:
        raise DemoError(f"Dagster could not list the sync runs: {answer.get('message')}")
    runs = answer["results"]
    attempts = [
        int(next((tag["value"] for tag in run["tags"] if tag["key"] == ATTEMPT_TAG), "1"))
        for run in runs
    ]
    return {
        "runs": len(runs),
        "failed runs": sum(run["status"] == "FAILURE" for run in runs),
        "retried batches": sum(attempt > 1 for attempt in attempts),
    }


def summary(stack: Stack, entity_ids: list[str], progress: Progress, started: datetime) -> str:
    with psycopg.connect(stack.database_url) as connection:
        p50, p95 = inbox.sync_latency_percentiles(connection, entity_ids, [0.5, 0.95])
        rows = {
            synced_data.TABLE: synced_data.row_count(connection),
            snapshots.TABLE: snapshots.row_count(connection),
        }
        mirrored = snapshots.by_schema(connection)
        typed = typed_tables.load(connection)
    lines: list[tuple[str, Any]] = [
        ("entities registered", len(entity_ids)),
        ("events received", progress.received),
        ("events synced", progress.synced),
        ("dead letters", progress.dead),
        *_sync_runs(stack, started).items(),
        *((f"rows in {table}", count) for table, count in rows.items()),
        ("schemas mirrored", len(mirrored)),
        *(
            (f"  {mirror.entity_type}", f"{mirror.schema_name} ({mirror.schema_id}): {mirror.rows}")
            for mirror in mirrored
        ),
        ("typed tables", len(typed)),
        *(
            (
                f"  {table.schema_name}",
                f"{qualified_name(table.table_name)}: {table.row_count} rows",
            )
            for table in typed.values()
        ),
        ("webhook → row p50", _seconds(p50)),
        ("webhook → row p95", _seconds(p95)),
        ("Dagster UI", stack.dagster_url),
        ("psql", f"psql '{without_password(stack.database_url)}'"),
    ]
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"

"""Sync speed through the whole stack of ``benchsync demo``: Dagster's daemon, bridge, emulator.

Two measurements, each on a fresh stack:

  latency  webhook → row at a low event rate: one registration every --interval seconds.
  drain    a burst of --entities registrations at Benchling's pace (50/s) against a binding
           tenant rate limit; the time until all are synced, against the ceiling
           entities ÷ (rate limit per second * 100 ids per bulk-get call).
           --per-event runs the seed's shape (one run per event) for --time-limit seconds and
           reports its throughput, for the ratio.

    .venv/bin/python benchmarks/sync_throughput.py latency --events 30 --interval 3
    .venv/bin/python benchmarks/sync_throughput.py drain --entities 5000 --rate-limit 12
    .venv/bin/python benchmarks/sync_throughput.py drain --entities 5000 --rate-limit 12 \\
        --per-event --time-limit 600

BENCHSYNC_DATABASE_URL, when set, names the database to use (it gets Dagster's tables too);
otherwise an embedded Postgres starts under a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg
import psycopg

from benchsync.demo.databases import DAGSTER_URL_VARIABLE
from benchsync.demo.stack import Stack
from benchsync_dagster.defs.sync.sensors import batch_webhook_ids
from webhook_sensor_bridge import inbox

BENCHLING_PACE_PER_SECOND = 50
# An event's way to its row, stage by stage, as latency_breakdown measures it.
STAGES = (
    "recorded → run requested (sensor tick, gate)",
    "run requested → launched (run queue)",
    "launched → run started (process start)",
    "run started → event settled (steps)",
)


def _stack(rate_limit: int, home: Path) -> Stack:
    # The deployment is configured with its tenant's real limit, as a user would.
    os.environ["BENCHSYNC_BENCHLING_RATE_LIMIT"] = str(rate_limit)
    return Stack.on_free_ports(home, rate_limit=rate_limit)


def _settled(stack: Stack, entity_ids: list[str]) -> inbox.InboxCounts:
    with psycopg.connect(stack.database_url) as connection:
        return inbox.count_by_state(connection, entity_ids)


def measure_latency(events: int, interval: float, home: Path) -> None:
    with _stack(rate_limit=60, home=home) as stack:
        assert stack.emulator is not None
        entity_ids: list[str] = []
        for _ in range(events):
            entity_ids += stack.emulator.tenant.create_registered(1)
            time.sleep(interval)
        deadline = time.monotonic() + 300
        while _settled(stack, entity_ids).synced < events and time.monotonic() < deadline:
            time.sleep(0.5)
        with psycopg.connect(stack.database_url) as connection:
            p50, p95, worst = inbox.sync_latency_percentiles(
                connection, entity_ids, [0.5, 0.95, 1.0]
            )
        segments = latency_breakdown(stack, entity_ids)
    print(f"latency: {events} events, one every {interval} s")
    print(f"  webhook → row p50 {p50:.1f} s, p95 {p95:.1f} s, max {worst:.1f} s")
    print("  where it goes (median s per event):")
    for name, seconds in segments.items():
        print(f"    {name:<42} {statistics.median(seconds):5.2f}")


def latency_breakdown(stack: Stack, entity_ids: list[str]) -> dict[str, list[float]]:
    """Per synced event, the seconds spent in each stage, from the inbox's stamps and the
    Dagster events of the run that synced it."""
    os.environ[DAGSTER_URL_VARIABLE] = stack.environment[DAGSTER_URL_VARIABLE]
    with psycopg.connect(stack.database_url) as connection:
        stamps = {
            webhook_id: (received_at.timestamp(), finished_at.timestamp())
            for webhook_id, received_at, finished_at in connection.execute(
                "SELECT webhook_id, received_at, finished_at FROM benchsync.inbox"
                " WHERE resource_id = ANY(%s) AND state = 'synced'",
                [entity_ids],
            ).fetchall()
        }
    segments: dict[str, list[float]] = {name: [] for name in STAGES}
    with dg.DagsterInstance.from_config(str(stack.dagster_home)) as instance:
        for run in instance.get_runs(dg.RunsFilter(job_name="sync_job")):
            if run.run_id is None or not run.run_config:
                continue
            at = {
                record.event_log_entry.dagster_event_type: record.event_log_entry.timestamp
                for record in instance.get_records_for_run(run.run_id).records
                if record.event_log_entry.dagster_event_type is not None
            }
            created = instance.get_run_record_by_id(run.run_id)
            if created is None or dg.DagsterEventType.RUN_START not in at:
                continue
            for webhook_id in batch_webhook_ids(run.run_config):
                if webhook_id not in stamps:
                    continue
                received, finished = stamps[webhook_id]
                marks = [
                    received,
                    created.create_timestamp.timestamp(),
                    at.get(dg.DagsterEventType.RUN_STARTING, at[dg.DagsterEventType.RUN_START]),
                    at[dg.DagsterEventType.RUN_START],
                    finished,
                ]
                for name, start, end in zip(STAGES, marks, marks[1:], strict=False):
                    segments[name].append(end - start)
    return segments


def measure_drain(
    entities: int, rate_limit: int, per_event: bool, time_limit: float, home: Path
) -> None:
    if per_event:
        os.environ["BENCHSYNC_MAX_BATCH_SIZE"] = "1"
    ceiling = entities / (rate_limit / 30 * 100)
    with _stack(rate_limit=rate_limit, home=home) as stack:
        assert stack.emulator is not None
        started = time.monotonic()
        entity_ids = stack.emulator.tenant.create_registered(entities)
        while time.monotonic() - started < time_limit:
            counts = _settled(stack, entity_ids)
            if counts.synced + counts.dead >= entities:
                break
            time.sleep(1)
        elapsed = time.monotonic() - started
        counts = _settled(stack, entity_ids)
    shape = "one run per event" if per_event else "batched"
    rate = counts.synced / elapsed
    print(f"drain ({shape}): {entities} registrations at {BENCHLING_PACE_PER_SECOND}/s,")
    print(f"  tenant limit {rate_limit} requests / 30 s → ceiling {ceiling:.0f} s")
    print(
        f"  synced {counts.synced}, dead {counts.dead} in {elapsed:.0f} s ({rate:.1f} entities/s)"
    )
    if counts.synced + counts.dead >= entities:
        print(f"  {elapsed / ceiling:.2f} x the ceiling")
    else:
        projected = entities / rate if rate else float("inf")
        print(f"  stopped at the time limit; at this rate all would take {projected:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    latency = commands.add_parser("latency")
    latency.add_argument("--events", type=int, default=30)
    latency.add_argument("--interval", type=float, default=3.0)
    drain = commands.add_parser("drain")
    drain.add_argument("--entities", type=int, default=5000)
    drain.add_argument("--rate-limit", type=int, default=12)
    drain.add_argument("--per-event", action="store_true")
    drain.add_argument("--time-limit", type=float, default=1800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="benchsync-bench-") as home:
        if args.command == "latency":
            measure_latency(args.events, args.interval, Path(home))
        else:
            measure_drain(
                args.entities, args.rate_limit, args.per_event, args.time_limit, Path(home)
            )


if __name__ == "__main__":
    main()

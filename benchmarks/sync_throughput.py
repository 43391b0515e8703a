"""Sync speed through the whole stack of ``benchsync demo``: Dagster's daemon, bridge, emulator.

Three measurements, each on a fresh stack:

  latency  webhook → row at a low event rate: one registration every --interval seconds.
  drain    a burst of --entities registrations at Benchling's pace (50/s) against a binding
           tenant rate limit; the time until all are synced, against the ceiling
           entities ÷ (rate limit per second * 100 ids per bulk-get call).
           --per-event runs the seed's shape (one run per event) for --time-limit seconds and
           reports its throughput, for the ratio.
  burst    --entities registrations delivered in --seconds (10,000 in a minute: Benchling's
           burst pace): how long the bridge took to acknowledge each POST (the emulator, like
           Benchling, gives up on one after 3 s and redelivers), and the drain against its
           ceiling, the later of the last delivery and what the rate limit allows.

    .venv/bin/python benchmarks/sync_throughput.py latency --events 30 --interval 3
    .venv/bin/python benchmarks/sync_throughput.py drain --entities 5000 --rate-limit 12
    .venv/bin/python benchmarks/sync_throughput.py drain --entities 5000 --rate-limit 12 \\
        --per-event --time-limit 600
    .venv/bin/python benchmarks/sync_throughput.py burst --entities 10000 --seconds 60 \\
        --rate-limit 60

BENCHSYNC_DATABASE_URL, when set, names the database to use (it gets Dagster's tables too);
otherwise an embedded Postgres starts under a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg

from benchling_emulator.stats import busiest_window
from benchsync.demo.databases import DAGSTER_URL_VARIABLE
from benchsync.demo.stack import Stack
from benchsync_dagster.batch_runs import batch_webhook_ids
from webhook_sensor_bridge import inbox

BENCHLING_PACE_PER_SECOND = 50
# An event's way to its row, stage by stage, as latency_breakdown measures it.
STAGES = (
    "recorded → run requested (sensor tick, gate)",
    "run requested → launched (run queue)",
    "launched → run started (process start)",
    "run started → event settled (steps)",
)


def _stack(rate_limit: int, home: Path, webhook_rate: float = BENCHLING_PACE_PER_SECOND) -> Stack:
    # The deployment is configured with its tenant's real limit, as a user would.
    os.environ["BENCHSYNC_BENCHLING_RATE_LIMIT"] = str(rate_limit)
    return Stack.on_free_ports(home, rate_limit=rate_limit, webhook_rate=webhook_rate)


def _settled(stack: Stack, entity_ids: list[str]) -> inbox.InboxCounts:
    with psycopg.connect(stack.database_url) as connection:
        return inbox.count_by_state(connection, entity_ids)


def _drain(
    stack: Stack,
    entity_ids: list[str],
    started: float,
    time_limit: float,
    on_poll: Callable[[], None] = lambda: None,
) -> tuple[float, inbox.InboxCounts]:
    """Wait until every entity's event is synced or dead, or time_limit passes since started;
    on_poll runs before each look at the inbox. Returns the seconds taken and the last counts."""
    while time.monotonic() - started < time_limit:
        on_poll()
        counts = _settled(stack, entity_ids)
        if counts.synced + counts.dead >= len(entity_ids):
            break
        time.sleep(0.5)
    return time.monotonic() - started, _settled(stack, entity_ids)


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


@dataclass
class SyncRun:
    webhook_ids: list[str]
    created: float  # when the sensor's request became a queued run
    at: dict[dg.DagsterEventType, float]  # each Dagster event type's (last) timestamp

    @property
    def launched(self) -> float:
        return self.at.get(dg.DagsterEventType.RUN_STARTING, self.started)

    @property
    def started(self) -> float:
        return self.at[dg.DagsterEventType.RUN_START]

    @property
    def ended(self) -> float:
        return self.at.get(
            dg.DagsterEventType.RUN_SUCCESS,
            self.at.get(dg.DagsterEventType.RUN_FAILURE, self.started),
        )


def sync_runs(stack: Stack) -> list[SyncRun]:
    """The sensor's sync runs that started, oldest first, from the stack's Dagster instance."""
    os.environ[DAGSTER_URL_VARIABLE] = stack.environment[DAGSTER_URL_VARIABLE]
    runs: list[SyncRun] = []
    with dg.DagsterInstance.from_config(str(stack.dagster_home)) as instance:
        for run in instance.get_runs(dg.RunsFilter(job_name="sync_job")):
            record = instance.get_run_record_by_id(run.run_id)
            if record is None or not run.run_config:
                continue
            at = {
                event.event_log_entry.dagster_event_type: event.event_log_entry.timestamp
                for event in instance.get_records_for_run(run.run_id, limit=10_000).records
                if event.event_log_entry.dagster_event_type is not None
            }
            if dg.DagsterEventType.RUN_START in at:
                webhook_ids = batch_webhook_ids(run.run_config)
                runs.append(SyncRun(webhook_ids, record.create_timestamp.timestamp(), at))
    return sorted(runs, key=lambda run: run.created)


def latency_breakdown(stack: Stack, entity_ids: list[str]) -> dict[str, list[float]]:
    """Per synced event, the seconds spent in each stage, from the inbox's stamps and the
    Dagster events of the run that synced it."""
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
    for run in sync_runs(stack):
        for webhook_id in run.webhook_ids:
            if webhook_id not in stamps:
                continue
            received, finished = stamps[webhook_id]
            marks = [received, run.created, run.launched, run.started, finished]
            for name, start, end in zip(STAGES, marks, marks[1:], strict=False):
                segments[name].append(end - start)
    return segments


def print_runs(runs: list[SyncRun]) -> None:
    """How the burst was cut into runs, and where each run's time went."""
    sizes = [len(run.webhook_ids) for run in runs]
    print(
        f"  {len(runs)} sync runs, events per run: median {statistics.median(sizes):.0f},"
        f" max {max(sizes)}"
    )
    queued = statistics.median(run.launched - run.created for run in runs)
    start = statistics.median(run.started - run.launched for run in runs)
    steps = statistics.median(run.ended - run.started for run in runs)
    print(
        f"  per run (median s): queued {queued:.1f}, process start {start:.1f}, steps {steps:.1f}"
    )
    first = runs[0].created
    for run in runs:
        print(
            f"    +{run.created - first:6.1f} s  {len(run.webhook_ids):5d} events"
            f"  queued {run.launched - run.created:5.1f}  start {run.started - run.launched:5.1f}"
            f"  steps {run.ended - run.started:5.1f}"
        )


@dataclass
class Activity:
    """What the stack did in a measurement: the API calls Benchling admitted and the runs."""

    calls: list[float]  # seconds after the start, each admitted call
    routes: Counter[str]
    runs: list[SyncRun]

    @classmethod
    def of(cls, stack: Stack, started: float) -> Activity:
        assert stack.emulator is not None
        admitted = [
            logged for logged in stack.emulator.stats.request_log() if logged.outcome == "admitted"
        ]
        return cls(
            [logged.at - started for logged in admitted],
            Counter(logged.route for logged in admitted),
            sync_runs(stack),
        )

    def print(self, rate_limit: int, elapsed: float) -> None:
        per_window = Counter(int(at // 10) for at in self.calls)
        print(
            f"  {len(self.calls)} API calls, busiest 30 s window {busiest_window(self.calls, 30)}"
            f" (limit {rate_limit}); per 10 s: "
            + " ".join(str(per_window[i]) for i in range(int(elapsed // 10) + 1))
        )
        print("  by route: " + ", ".join(f"{r} {n}" for r, n in self.routes.most_common()))
        print_runs(self.runs)


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
        elapsed, counts = _drain(stack, entity_ids, started, time_limit)
        activity = Activity.of(stack, started)
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
    activity.print(rate_limit, elapsed)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_burst(
    entities: int, seconds: float, rate_limit: int, time_limit: float, home: Path
) -> None:
    api_seconds = entities / (rate_limit / 30 * 100)
    ceiling = max(seconds, api_seconds)
    with _stack(rate_limit=rate_limit, home=home, webhook_rate=entities / seconds) as stack:
        assert stack.emulator is not None
        started = time.monotonic()
        entity_ids = stack.emulator.tenant.create_registered(entities)
        delivered_after: float | None = None

        def note_delivery() -> None:
            nonlocal delivered_after
            assert stack.emulator is not None
            if delivered_after is None and stack.emulator.delivery.pending() == 0:
                delivered_after = time.monotonic() - started

        elapsed, counts = _drain(stack, entity_ids, started, time_limit, note_delivery)
        log = stack.emulator.delivery.log()
        throttled = stack.emulator.stats.count("responses_429")
        activity = Activity.of(stack, started)
    posts = [post for record in log for post in record.post_seconds]
    failed = sum(record.failed for record in log)
    print(f"burst: {entities} registrations delivered in {seconds:.0f} s")
    delivered = f"{delivered_after:.1f} s" if delivered_after is not None else "not finished"
    print(f"  deliveries: {len(posts)} POSTs, all delivered after {delivered}")
    print(
        f"  acknowledgement: p50 {_percentile(posts, 0.5) * 1000:.0f} ms, p99"
        f" {_percentile(posts, 0.99) * 1000:.0f} ms, max {max(posts) * 1000:.0f} ms;"
        f" {failed} POSTs failed (3 s timeout or non-2xx),"
        f" {sum(not r.acknowledged for r in log)} webhooks never acknowledged"
    )
    print(
        f"  tenant limit {rate_limit} requests / 30 s → fetching takes ≥ {api_seconds:.0f} s;"
        f" ceiling {ceiling:.0f} s"
    )
    print(f"  synced {counts.synced}, dead {counts.dead} in {elapsed:.0f} s; {throttled} 429s")
    if counts.synced + counts.dead >= entities:
        print(f"  {ceiling / elapsed:.2f} x the ceiling's speed", end="")
        if delivered_after is not None and delivered_after > seconds:
            # The emulator shares the machine and can fall behind its pace.
            actual = max(delivered_after, api_seconds)
            print(f"; {actual / elapsed:.2f} x from the last delivery's actual time", end="")
        print()
    activity.print(rate_limit, elapsed)


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
    burst = commands.add_parser("burst")
    burst.add_argument("--entities", type=int, default=10_000)
    burst.add_argument("--seconds", type=float, default=60)
    burst.add_argument("--rate-limit", type=int, default=60)
    burst.add_argument("--time-limit", type=float, default=1800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="benchsync-bench-") as home:
        if args.command == "latency":
            measure_latency(args.events, args.interval, Path(home))
        elif args.command == "burst":
            measure_burst(args.entities, args.seconds, args.rate_limit, args.time_limit, Path(home))
        else:
            measure_drain(
                args.entities, args.rate_limit, args.per_event, args.time_limit, Path(home)
            )


if __name__ == "__main__":
    main()

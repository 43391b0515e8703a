"""From recorded webhooks to sync runs: the inbox sensor, and the retry of failed batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from dagster._core.storage.tags import WILL_RETRY_TAG

from benchsync_dagster.batching import PendingEvent, plan_batches
from benchsync_dagster.benchling_api import SyncTarget
from benchsync_dagster.defs.resources import BenchlingResource, PostgresResource
from benchsync_dagster.defs.sync.jobs import sync_job
from benchsync_dagster.settings import SyncSettings
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.events import APP_CONFIGURATION_UPDATED, SYNCED_ENTITY_EVENT_TYPES

# Each RunRequest costs ~80 ms of a tick that must end within 60 s (FACTS.md).
MAX_RUNS_PER_TICK = 20
# A burst is still arriving while its newest event is younger than this.
BURST_QUIET_AFTER = timedelta(seconds=2)
ATTEMPT_TAG = "benchsync/attempt"
BATCH_TAG = "benchsync/batch"
IN_FLIGHT_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def batch_run_config(event_seqs: list[int], target: SyncTarget) -> dict[str, Any]:
    config = {
        "event_seqs": event_seqs,
        "schema_id": target.schema_id,
        "field_name": target.field_name,
    }
    return {
        "ops": {
            "benchling_entity_snapshots": {"config": config},
            "synced_benchling_data": {"config": config},
        }
    }


def batch_event_seqs(run_config: dict[str, Any]) -> list[int]:
    return list(run_config["ops"]["benchling_entity_snapshots"]["config"]["event_seqs"])


def _runs_in_flight(instance: dg.DagsterInstance) -> int:
    filters = dg.RunsFilter(job_name=sync_job.name, statuses=IN_FLIGHT_STATUSES)
    return int(instance.get_runs_count(filters))


def _holding_back_reason(connection: Any) -> str:
    held = inbox.held_back(connection)
    if not held.events:
        return "no new events"
    return (
        f"{held.events} recorded events wait for an open transaction to end"
        f" (pid {held.oldest_transaction_pid}, open {held.oldest_transaction_seconds:.0f} s)"
    )


@dg.sensor(
    job=sync_job,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def inbox_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, benchling: BenchlingResource
) -> dg.SensorResult | dg.SkipReason:
    """Turns newly recorded webhooks into batched runs of ``sync_job``."""
    settings = SyncSettings.from_env()
    free_slots = settings.max_runs_in_flight - _runs_in_flight(context.instance)
    if free_slots <= 0:
        return dg.SkipReason(f"{settings.max_runs_in_flight} sync runs in flight; events wait")
    max_batches = min(MAX_RUNS_PER_TICK, free_slots)
    position = inbox.InboxPosition.from_cursor(context.cursor)

    with postgres.transaction() as connection:
        events = inbox.read_after(connection, position, limit=settings.max_batch_size * max_batches)
        if not events:
            return dg.SkipReason(_holding_back_reason(connection))
        app_id = inbox.latest_app_id(connection)

    pending = [event for event in events if event.state == "pending"]
    config_updates = [e.seq for e in pending if e.message_type == APP_CONFIGURATION_UPDATED]
    if config_updates:
        benchling.forget_sync_target()
    to_sync = [
        PendingEvent(e.seq, e.txid, e.resource_id, e.received_at)
        for e in pending
        if e.message_type in SYNCED_ENTITY_EVENT_TYPES and e.resource_id
    ]
    plan = plan_batches(
        to_sync,
        now=datetime.now(UTC),
        max_batch_size=settings.max_batch_size,
        max_batches=max_batches,
        quiet_after=BURST_QUIET_AFTER,
    )
    target = benchling.sync_target(app_id) if plan.batches or config_updates else None
    if config_updates:
        with postgres.transaction() as connection:
            inbox.mark_synced(connection, config_updates)
        context.log.info(f"App configuration re-read: {target}")

    run_requests = []
    for batch in plan.batches:
        assert target is not None
        run_key = f"inbox-{batch[0].seq}-{batch[-1].seq}"
        run_requests.append(
            dg.RunRequest(
                run_key=run_key,
                run_config=batch_run_config([event.seq for event in batch], target),
                tags={BATCH_TAG: run_key, ATTEMPT_TAG: "1"},
            )
        )
    # Held-back events (the tail of an arriving burst) are read again next tick.
    last_taken = plan.taken[-1] if len(plan.taken) < len(to_sync) else events[-1]
    return dg.SensorResult(
        run_requests=run_requests,
        cursor=inbox.InboxPosition(last_taken.txid, last_taken.seq).to_cursor(),
    )


@dg.run_failure_sensor(
    monitored_jobs=[sync_job],
    request_job=sync_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def retry_failed_batches(
    context: dg.RunFailureSensorContext, postgres: PostgresResource
) -> dg.RunRequest | dg.SkipReason:
    """Requests a failed batch again under a new run key, or dead-letters it after the last try."""
    run = context.dagster_run
    if run.tags.get(WILL_RETRY_TAG) == "true":
        return dg.SkipReason(f"run {run.run_id} will be retried by the Dagster daemon")
    seqs = batch_event_seqs(dict(run.run_config))
    attempt = int(run.tags.get(ATTEMPT_TAG, "1"))
    batch = run.tags.get(BATCH_TAG, run.run_id)
    error = context.failure_event.message or "the run failed"
    settings = SyncSettings.from_env()
    with postgres.transaction() as connection:
        if attempt >= settings.max_attempts:
            dead = inbox.mark_dead(
                connection, seqs, f"sync failed {attempt} times; last error: {error}"
            )
            return dg.SkipReason(
                f"batch {batch}: {dead} events dead-lettered after {attempt} tries"
            )
        inbox.record_failed_attempt(connection, seqs, attempt, error)
    return dg.RunRequest(
        run_key=f"{batch}-attempt{attempt + 1}",
        run_config=run.run_config,
        tags={BATCH_TAG: batch, ATTEMPT_TAG: str(attempt + 1)},
    )

"""From recorded webhooks to runs: the inbox sensor, and the retry of failed batches.

A tick only reads (the inbox, the stored App configuration, Dagster's runs) and requests runs;
whatever writes or calls Benchling happens in those runs. So "Preview tick" in the UI changes
nothing, and no tick waits on Benchling's rate limit.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from benchsync_dagster.batching import PendingEvent, plan_batches
from benchsync_dagster.defs.resources import (
    SYNC_RUN_TIMEOUT_SECONDS,
    PostgresResource,
    SyncSettings,
)
from benchsync_dagster.defs.sync.jobs import (
    MAX_RUNTIME_TAG,
    app_configuration_job,
    requeue_job,
    sync_job,
)
from benchsync_dagster.storage import app_configuration, benchling_outage
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.inbox.event_types import (
    APP_CONFIGURATION_UPDATED,
    SYNCED_ENTITY_EVENT_TYPES,
)

# Each RunRequest costs ~80 ms of a tick that must end within 60 s (docs/architecture.md).
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


def batch_run_config(webhook_ids: list[str], batch: str | None) -> dict[str, Any]:
    config = {"webhook_ids": webhook_ids, "batch": batch}
    return {
        "ops": {
            "benchling_entity_snapshots": {"config": config},
            "synced_benchling_data": {"config": config},
        }
    }


def batch_tags(batch: str, attempt: int, timeout_seconds: int) -> dict[str, str]:
    return {BATCH_TAG: batch, ATTEMPT_TAG: str(attempt), MAX_RUNTIME_TAG: str(timeout_seconds)}


def batch_webhook_ids(run_config: Mapping[str, Any]) -> list[str]:
    return list(run_config["ops"]["benchling_entity_snapshots"]["config"]["webhook_ids"])


def batch_name(run_config: Mapping[str, Any]) -> str | None:
    """The batch (its run key) a sync run's config names; None for a run launched by hand."""
    batch = run_config["ops"]["benchling_entity_snapshots"]["config"].get("batch")
    return str(batch) if batch else None


def batch_span(run_config: Mapping[str, Any]) -> inbox.BatchSpan | None:
    batch = batch_name(run_config)
    return inbox.BatchSpan.parse(batch) if batch else None


def requeue_request(run_key: str, reason: str, **selection: Any) -> dg.RunRequest:
    """A run of ``requeue_job`` over the events ``selection`` names (``RequeueConfig``)."""
    config = {"reason": reason, **selection}
    return dg.RunRequest(
        job_name=requeue_job.name,
        run_key=run_key,
        run_config={"ops": {"requeue_events": {"config": config}}},
    )


def position_from_cursor(cursor: str | None) -> inbox.ReadPosition:
    if not cursor:
        return inbox.ReadPosition()
    txid, seq = cursor.split(":")
    return inbox.ReadPosition(int(txid), int(seq))


def cursor_at(position: inbox.ReadPosition) -> str:
    return f"{position.txid}:{position.seq}"


# At most this many stranded events are requeued per tick.
STRANDED_SWEEP_LIMIT = 10_000


def _runs_in_flight(instance: dg.DagsterInstance) -> int:
    filters = dg.RunsFilter(job_name=sync_job.name, statuses=IN_FLIGHT_STATUSES)
    return int(instance.get_runs_count(filters))


def _events_of_live_runs(instance: dg.DagsterInstance, since: datetime) -> set[str]:
    """Webhook ids of sync runs queued or running, or that ended after ``since`` (a failed
    one's retry may not be requested yet)."""
    runs = [
        *instance.get_runs(dg.RunsFilter(job_name=sync_job.name, statuses=IN_FLIGHT_STATUSES)),
        *instance.get_runs(dg.RunsFilter(job_name=sync_job.name, updated_after=since)),
    ]
    return {webhook_id for run in runs for webhook_id in batch_webhook_ids(run.run_config)}


def stranded_sweep(
    context: dg.SensorEvaluationContext,
    postgres: PostgresResource,
    position: inbox.ReadPosition,
    stranded_after: timedelta,
) -> dg.RunRequest | None:
    """A requeue of the pending events behind the cursor that no live or recent run covers.

    Every way a run ends settles its events (success, the failure and cancellation sensors, run
    monitoring for hung and orphaned runs); this is the net below them, for whatever slips
    through: a run deleted in the UI, one of those sensors turned off, a wiped run storage.
    """
    with postgres.transaction() as connection:
        candidates = inbox.pending_behind(
            connection, position, stranded_after.total_seconds(), STRANDED_SWEEP_LIMIT
        )
    if not candidates:
        return None
    recent = datetime.now(UTC) - stranded_after  # Dagster's clock, which stamps its runs
    live = _events_of_live_runs(context.instance, recent)
    stranded = [(webhook_id, at) for webhook_id, at in candidates if webhook_id not in live]
    if not stranded:
        return None
    span = inbox.BatchSpan(stranded[0][1], stranded[-1][1])
    reason = (
        f"pending for over {stranded_after.total_seconds():.0f} s behind the sensor's cursor,"
        " in no queued, running or recent sync run"
    )
    context.log.warning(f"{len(stranded)} events stranded: {reason}; requesting their requeue")
    # The period in the key: if this requeue fails, the next period's sweep asks again.
    period = int(datetime.now(UTC).timestamp() // stranded_after.total_seconds())
    return requeue_request(
        f"stranded-{span.name}-{period}",
        reason,
        webhook_ids=[webhook_id for webhook_id, _ in stranded],
        batch=span.name,
    )


# A requeue of rows from another server that did not take is asked for again this often.
RESTORED_REQUEUE_PERIOD_SECONDS = 60


def _from_another_server(
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.SensorResult | None:
    """When the cursor, or pending rows, come from another server: a requeue of every pending
    event, and the cursor back to the inbox's start.

    After a dump and restore (or a move to another server) transaction ids start lower: rows
    recorded since would sort behind the cursor, and the restored pending rows keep ids above
    this server's horizon, so neither would ever be read. Requeued, they take this server's ids;
    while any is left (the requeue failed), it is asked for again.
    """
    position = position_from_cursor(context.cursor)
    with postgres.transaction() as connection:
        next_txid, ahead = inbox.txid_horizon(connection)
    cursor_ahead = position.txid > next_txid
    if not (cursor_ahead or ahead):
        return None
    reason = (
        f"the sensor's cursor ({cursor_at(position)}) or {ahead} pending events are ahead of"
        f" this database's transaction ids (next {next_txid}): restored or moved?"
    )
    context.log.warning(
        f"{reason} Requeueing every pending event; reading the inbox from its start"
    )
    period = int(datetime.now(UTC).timestamp() // RESTORED_REQUEUE_PERIOD_SECONDS)
    return dg.SensorResult(
        run_requests=[requeue_request(f"restored-{next_txid}-{period}", reason, state="pending")],
        cursor=cursor_at(inbox.ReadPosition()) if cursor_ahead else context.cursor,
    )


def _rebuild_request(
    stored: app_configuration.StoredConfiguration | None, refresh_seconds: int
) -> dg.RunRequest | None:
    """A run of ``app_configuration_job`` when the stored App configuration is not the one the
    rows were built for (a sync run read a change the webhook did not announce). Its key holds
    the change and the refresh period: one run per change, tried again a period later."""
    if stored is None or stored.built_for == stored.target:
        return None
    period = int(datetime.now(UTC).timestamp() // refresh_seconds)
    target = stored.target
    return dg.RunRequest(
        job_name=app_configuration_job.name,
        run_key=f"app-configuration-rebuild-{target.schema_id}-{target.field_name}-{period}",
        run_config={"ops": {"benchling_app_configuration": {"config": {}}}},
    )


def _only(
    context: dg.SensorEvaluationContext, requests: list[dg.RunRequest], why: str
) -> dg.SensorResult:
    """The requests made so far, or a skip saying ``why`` (a tick result cannot carry both)."""
    if not requests:
        return dg.SensorResult(skip_reason=why)
    context.log.info(why)
    return dg.SensorResult(run_requests=requests)


def _nothing_to_read(held_back: int) -> str:
    if not held_back:
        return "no new events"
    # The read horizon is server-wide: any open transaction on this Postgres holds it back.
    return (
        f"{held_back} recorded events wait for a transaction still open on the database server"
        " to end (see pg_stat_activity)"
    )


# The daemon evaluates sensors once per 5 s loop, skipping one whose last tick started less than
# minimum_interval_seconds ago; a tick starts a hair after its loop does, so an interval of 5 s
# ticked every other loop (10 s, measured). 1 s means every loop.
EVERY_DAEMON_LOOP_SECONDS = 1


@dg.sensor(
    jobs=[sync_job, app_configuration_job, requeue_job],
    minimum_interval_seconds=EVERY_DAEMON_LOOP_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def inbox_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, sync_settings: SyncSettings
) -> dg.SensorResult:
    """Turns newly recorded webhooks into batched runs of ``sync_job`` (and configuration
    updates into runs of ``app_configuration_job``)."""
    settings = sync_settings
    restart = _from_another_server(context, postgres)
    if restart is not None:
        return restart
    position = position_from_cursor(context.cursor)
    sweep = stranded_sweep(
        context, postgres, position, timedelta(seconds=settings.stranded_after_seconds)
    )
    requests = [sweep] if sweep else []
    with postgres.transaction() as connection:
        outage = benchling_outage.current(connection)
        stored = app_configuration.current(connection)
    rebuild = _rebuild_request(stored, settings.config_refresh_seconds)
    if rebuild is not None:
        requests.append(rebuild)
    # While Benchling is down, one run at a time probes it (its steps wait the outage out).
    max_in_flight = 1 if outage else settings.max_runs_in_flight
    free_slots = max_in_flight - _runs_in_flight(context.instance)
    if free_slots <= 0:
        gate = f"{max_in_flight} sync runs in flight; events wait"
        if outage:
            gate = (
                f"Benchling unavailable since {outage.since:%Y-%m-%d %H:%M:%S %Z}"
                f" ({outage.last_error}): one sync run at a time until it answers; events wait"
            )
        return _only(context, requests, gate)
    max_batches = min(MAX_RUNS_PER_TICK, free_slots)

    with postgres.transaction() as connection:
        read = inbox.read_after(connection, position, limit=settings.max_batch_size * max_batches)
    if not read.rows:
        return _only(context, requests, _nothing_to_read(read.held_back))

    pending = [row for row in read.rows if row.state == "pending"]
    config_updates = [e for e in pending if e.message_type == APP_CONFIGURATION_UPDATED]
    if config_updates:
        span = inbox.BatchSpan(config_updates[0].position, config_updates[-1].position)
        config = {"webhook_ids": [e.webhook_id for e in config_updates], "batch": span.name}
        requests.append(
            dg.RunRequest(
                job_name=app_configuration_job.name,
                run_key=f"app-configuration-{span.name}",
                run_config={"ops": {"benchling_app_configuration": {"config": config}}},
            )
        )
    to_sync = [
        PendingEvent(e.seq, e.txid, e.webhook_id, e.received_at)
        for e in pending
        if e.message_type in SYNCED_ENTITY_EVENT_TYPES
    ]
    plan = plan_batches(
        to_sync,
        now=datetime.now(UTC),
        max_batch_size=settings.max_batch_size,
        max_batches=max_batches,
        quiet_after=BURST_QUIET_AFTER,
    )
    for batch in plan.batches:
        run_key = inbox.BatchSpan(batch[0].position, batch[-1].position).name
        requests.append(
            dg.RunRequest(
                job_name=sync_job.name,
                run_key=run_key,
                run_config=batch_run_config([event.webhook_id for event in batch], run_key),
                tags=batch_tags(run_key, 1, settings.run_timeout_seconds),
            )
        )
    # Held-back events (the tail of an arriving burst) are read again next tick.
    last = plan.taken[-1].position if len(plan.taken) < len(to_sync) else read.rows[-1].position
    return dg.SensorResult(run_requests=requests, cursor=cursor_at(last))


def _failure_reason(context: dg.RunFailureSensorContext) -> str:
    """The innermost error of the failed step (or of the run), where the real cause is said."""
    failures = [event.step_failure_data.error for event in context.get_step_failure_events()]
    run_failure = context.failure_event.event_specific_data
    error = failures[-1] if failures else getattr(run_failure, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return context.failure_event.message or "the run failed"
    return error.message.strip()


# A run status sensor handles one run per tick when its function returns something, and up to
# five when it returns None; a tick every daemon loop keeps a burst of failures from queueing.
RUN_STATUS_SENSOR_INTERVAL_SECONDS = EVERY_DAEMON_LOOP_SECONDS


@dg.run_failure_sensor(
    monitored_jobs=[sync_job],
    request_job=sync_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=RUN_STATUS_SENSOR_INTERVAL_SECONDS,
)
def retry_failed_batches(
    context: dg.RunFailureSensorContext, postgres: PostgresResource, sync_settings: SyncSettings
) -> dg.RunRequest | dg.SensorResult | None:
    """Requests a failed batch again under a new run key, or dead-letters it after the last try:
    whatever failed it (a step's error, a run process that died, run monitoring's timeouts)."""
    return _next_attempt(
        context,
        context.dagster_run,
        _failure_reason(context),
        postgres,
        sync_settings.max_attempts,
    )


# A batch whose runs fail while Benchling is down is requested again this many times without
# spending an attempt (each run waits out up to ~9 minutes of it): about an hour of outage.
MAX_OUTAGE_RETRIES = 6
OUTAGE_RETRIES_TAG = "benchsync/outage_retries"


def _failed_in_outage(
    instance: dg.DagsterInstance, run: dg.DagsterRun, outage: benchling_outage.Outage | None
) -> bool:
    """Whether Benchling was found unavailable while ``run`` ran (not before it started)."""
    if outage is None:
        return False
    record = instance.get_run_record_by_id(run.run_id)
    started = record.start_time if record is not None else None
    return started is None or outage.updated_at.timestamp() >= started


def _next_attempt(
    context: dg.RunStatusSensorContext,
    run: dg.DagsterRun,
    error: str,
    postgres: PostgresResource,
    max_attempts: int,
) -> dg.RunRequest | dg.SensorResult | None:
    """The batch of a run that did not finish, requested again under a new run key.

    After its last attempt, a batch of one event is dead-lettered with ``error``; a larger one
    is split in two halves, each requested at once (as ``<batch>/1`` and ``<batch>/2``, with no
    attempts left), so that halving again leaves only the events that fail on their own dead,
    each with its own error, and the rest synced.
    """
    webhook_ids = batch_webhook_ids(run.run_config)
    span = batch_span(run.run_config)
    # The config built anew (not the failed run's): a run from before an upgrade may hold fields
    # today's config no longer has.
    span_name = batch_name(run.run_config)
    attempt = int(run.tags.get(ATTEMPT_TAG, "1"))
    batch = run.tags.get(BATCH_TAG, run.run_id)
    timeout_seconds = int(run.tags.get(MAX_RUNTIME_TAG, SYNC_RUN_TIMEOUT_SECONDS))
    outage_retries = int(run.tags.get(OUTAGE_RETRIES_TAG, "0"))
    with postgres.transaction() as connection:
        outage = benchling_outage.current(connection)
        if _failed_in_outage(context.instance, run, outage) and outage_retries < MAX_OUTAGE_RETRIES:
            # Benchling is down, not this batch: try it again without spending an attempt.
            assert outage is not None
            context.log.info(f"batch {batch}: Benchling unavailable ({outage.last_error})")
            return dg.RunRequest(
                run_key=f"{batch}-attempt{attempt}-after-{run.run_id[:8]}",
                run_config=batch_run_config(webhook_ids, span_name),
                tags={
                    **batch_tags(batch, attempt, timeout_seconds),
                    OUTAGE_RETRIES_TAG: str(outage_retries + 1),
                },
            )
        if attempt < max_attempts:
            inbox.note_failed_attempt(connection, webhook_ids, error, span)
            return dg.RunRequest(
                run_key=f"{batch}-attempt{attempt + 1}",
                run_config=batch_run_config(webhook_ids, span_name),
                tags=batch_tags(batch, attempt + 1, timeout_seconds),
            )
        if len(webhook_ids) == 1:
            dead = inbox.mark_dead(
                connection, webhook_ids, f"sync failed {attempt} times; last error: {error}", span
            )
            context.log.warning(f"batch {batch}: {dead} event dead-lettered after {attempt} tries")
            return None
        inbox.note_failed_attempt(connection, webhook_ids, error, span)
    middle = len(webhook_ids) // 2
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"{batch}/{number}",
                run_config=batch_run_config(half, f"{batch}/{number}"),
                tags=batch_tags(f"{batch}/{number}", max_attempts, timeout_seconds),
            )
            for number, half in ((1, webhook_ids[:middle]), (2, webhook_ids[middle:]))
        ]
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.CANCELED,
    monitored_jobs=[sync_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=RUN_STATUS_SENSOR_INTERVAL_SECONDS,
)
def settle_cancelled_batches(
    context: dg.RunStatusSensorContext, postgres: PostgresResource
) -> None:
    """Dead-letters the events of a sync run an operator cancelled ("Terminate" in the UI),
    saying so, rather than starting them again behind the operator's back; ``benchsync replay
    --batch <run key>`` requeues them.

    A run that run monitoring cancelled for running past its ``dagster/max_runtime`` (hung, or
    orphaned by a crash) is left alone: run monitoring also reports it FAILURE, and
    ``retry_failed_batches`` takes it from there.
    """
    run = context.dagster_run
    cancelling = context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_CANCELING)
    if any("maximum runtime" in event.message for event in cancelling):
        return
    batch = run.tags.get(BATCH_TAG, run.run_id)
    reason = (
        f"the sync run {run.run_id} was cancelled; `benchsync replay --batch {batch}` requeues"
        " its events"
    )
    with postgres.transaction() as connection:
        dead = inbox.mark_dead(
            connection, batch_webhook_ids(run.run_config), reason, batch_span(run.run_config)
        )
    context.log.warning(f"batch {batch}: {dead} events dead-lettered, as its run was cancelled")

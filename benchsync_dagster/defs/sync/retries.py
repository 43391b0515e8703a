"""``retry_failed_batches``: a failed sync run's batch requested again, halved, or
dead-lettered, as ``batch_decisions.after_failure`` decides."""

import dagster as dg

from benchsync_dagster.batch_decisions import (
    DeadLetter,
    FailedBatch,
    Halve,
    TryAgain,
    WaitOutOutage,
    after_failure,
    failed_in_outage,
)
from benchsync_dagster.batch_runs import (
    ATTEMPT_TAG,
    BATCH_TAG,
    OUTAGE_RETRIES_TAG,
    batch_name,
    batch_span,
    batch_webhook_ids,
)
from benchsync_dagster.defs.daemon import RUN_STATUS_SENSOR_INTERVAL_SECONDS
from benchsync_dagster.defs.resources import (
    SYNC_RUN_TIMEOUT_SECONDS,
    PostgresResource,
    SyncSettings,
)
from benchsync_dagster.defs.sync.jobs import MAX_RUNTIME_TAG, sync_job
from benchsync_dagster.defs.sync.requests import sync_request
from benchsync_dagster.storage import benchling_outage
from webhook_sensor_bridge import inbox


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


def _failed_batch(
    instance: dg.DagsterInstance, run: dg.DagsterRun, outage: benchling_outage.Outage | None
) -> FailedBatch:
    """What ``run`` tells of its batch, and whether ``outage`` was seen while it ran."""
    record = instance.get_run_record_by_id(run.run_id)
    return FailedBatch(
        run_id=run.run_id,
        batch=run.tags.get(BATCH_TAG, run.run_id),
        # The config built anew (not the failed run's): a run from before an upgrade may hold
        # fields today's config no longer has.
        config_batch=batch_name(run.run_config),
        webhook_ids=batch_webhook_ids(run.run_config),
        attempt=int(run.tags.get(ATTEMPT_TAG, "1")),
        outage_retries=int(run.tags.get(OUTAGE_RETRIES_TAG, "0")),
        failed_in_outage=failed_in_outage(
            outage.updated_at if outage else None,
            record.start_time if record is not None else None,
        ),
    )


@dg.run_failure_sensor(
    monitored_jobs=[sync_job],
    request_job=sync_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=RUN_STATUS_SENSOR_INTERVAL_SECONDS,
)
def retry_failed_batches(
    context: dg.RunFailureSensorContext, postgres: PostgresResource, sync_settings: SyncSettings
) -> dg.RunRequest | dg.SensorResult | None:
    """Requests a failed batch again under a new run key, halves it, or dead-letters it after
    the last try: whatever failed it (a step's error, a run process that died, run
    monitoring's timeouts)."""
    run = context.dagster_run
    error = _failure_reason(context)
    span = batch_span(run.run_config)
    timeout_seconds = int(run.tags.get(MAX_RUNTIME_TAG, SYNC_RUN_TIMEOUT_SECONDS))
    with postgres.transaction() as connection:
        outage = benchling_outage.current(connection)
        failed = _failed_batch(context.instance, run, outage)
        decision = after_failure(failed, error, sync_settings.max_attempts)
        match decision:
            case WaitOutOutage(retry):
                assert outage is not None
                context.log.info(
                    f"batch {failed.batch}: Benchling unavailable ({outage.last_error})"
                )
                return sync_request(retry, timeout_seconds)
            case TryAgain(retry):
                inbox.note_failed_attempt(connection, failed.webhook_ids, error, span)
                return sync_request(retry, timeout_seconds)
            case Halve(halves):
                inbox.note_failed_attempt(connection, failed.webhook_ids, error, span)
                return dg.SensorResult(
                    run_requests=[sync_request(half, timeout_seconds) for half in halves]
                )
            case DeadLetter(reason):
                dead = inbox.mark_dead(connection, failed.webhook_ids, reason, span)
                context.log.warning(
                    f"batch {failed.batch}: {dead} event dead-lettered after {failed.attempt} tries"
                )
                return None

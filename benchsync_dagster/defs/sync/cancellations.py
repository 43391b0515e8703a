"""``settle_cancelled_batches``: what becomes of a sync run's batch when the run is cancelled,
as ``batch_decisions.after_cancel`` decides."""

import dagster as dg

from benchsync_dagster.batch_decisions import after_cancel
from benchsync_dagster.batch_runs import BATCH_TAG, batch_span, batch_webhook_ids
from benchsync_dagster.defs.daemon import RUN_STATUS_SENSOR_INTERVAL_SECONDS
from benchsync_dagster.defs.resources import PostgresResource
from benchsync_dagster.defs.sync.jobs import sync_job
from webhook_sensor_bridge import inbox


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
    batch = run.tags.get(BATCH_TAG, run.run_id)
    cancelling = context.instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_CANCELING)
    decision = after_cancel(run.run_id, batch, [event.message for event in cancelling])
    if decision is None:
        return
    with postgres.transaction() as connection:
        dead = inbox.mark_dead(
            connection,
            batch_webhook_ids(run.run_config),
            decision.reason,
            batch_span(run.run_config),
        )
    context.log.warning(f"batch {batch}: {dead} events dead-lettered, as its run was cancelled")

"""The inbox keeps every webhook's body; once synced or ignored, a row is only history. This
job deletes such rows ``BENCHSYNC_INBOX_RETENTION_DAYS`` after they finished, daily. (Dagster's
own sensor and schedule ticks are purged by the daemon, as dagster.yaml's ``retention:`` says.)"""

import dagster as dg

from benchsync_dagster.defs.resources import PostgresResource, SyncSettings
from benchsync_dagster.defs.sync.jobs import MAX_RUNTIME_TAG
from webhook_sensor_bridge import inbox

# Rows per DELETE, each its own transaction: no long lock while the bridge inserts.
DELETE_BATCH_ROWS = 10_000
RETENTION_CRON = "30 3 * * *"
RETENTION_TIMEOUT_SECONDS = 3600


@dg.op
def delete_finished_inbox_rows(
    context: dg.OpExecutionContext, postgres: PostgresResource, sync_settings: SyncSettings
) -> int:
    """Deletes synced and ignored inbox rows that finished over the retention period ago;
    pending and dead rows stay (``benchsync replay`` can still requeue a dead one)."""
    days = sync_settings.inbox_retention_days
    deleted = 0
    with postgres.session() as connection:
        while True:
            batch = inbox.delete_finished(connection, days, DELETE_BATCH_ROWS)
            deleted += batch
            if batch < DELETE_BATCH_ROWS:
                break
    context.log.info(f"deleted {deleted} inbox rows that finished over {days} days ago")
    context.add_output_metadata({"rows_deleted": deleted, "retention_days": days})
    return deleted


@dg.job(
    description="Delete synced and ignored inbox rows older than BENCHSYNC_INBOX_RETENTION_DAYS"
    " (default 30); pending and dead rows are kept.",
    executor_def=dg.in_process_executor,
    tags={MAX_RUNTIME_TAG: str(RETENTION_TIMEOUT_SECONDS)},
)
def inbox_retention_job() -> None:
    delete_finished_inbox_rows()


inbox_retention_schedule = dg.ScheduleDefinition(
    name="inbox_retention_schedule",
    job=inbox_retention_job,
    cron_schedule=RETENTION_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

"""``typed_table_backfill_sensor``: a run of ``typed_table_backfill_job`` whenever a typed table
waits to be filled from its snapshots (``benchsync.typed_table_backfills``)."""

from datetime import UTC, datetime

import dagster as dg

from benchsync_dagster.defs.backfill.jobs import typed_table_backfill_job
from benchsync_dagster.defs.resources import PostgresResource
from benchsync_dagster.storage import typed_backfills

BACKFILL_CHECK_SECONDS = 15
# A backfill that failed is requested again after at most this long.
BACKFILL_RETRY_SECONDS = 600


@dg.sensor(
    job=typed_table_backfill_job,
    minimum_interval_seconds=BACKFILL_CHECK_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def typed_table_backfill_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource
) -> dg.RunRequest | dg.SkipReason:
    """Requests a backfill when a table is due: its key holds the newest due and the retry
    period, so one run serves what is due, and one that failed is tried again a period later."""
    with postgres.transaction() as connection:
        due = typed_backfills.due(connection)
    if not due:
        return dg.SkipReason("no typed table waits to be filled")
    period = int(datetime.now(UTC).timestamp() // BACKFILL_RETRY_SECONDS)
    newest = max(due.values())
    return dg.RunRequest(run_key=f"typed-table-backfill-{newest.isoformat()}-{period}")

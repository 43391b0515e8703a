"""The poll's job, and the sensor that requests it every ``BENCHSYNC_POLL_INTERVAL_SECONDS``,
giving way once to a burst of webhook events waiting in the inbox (``poll_deferral``)."""

from datetime import UTC, datetime

import dagster as dg

from benchsync_dagster.defs.daemon import IN_FLIGHT_STATUSES
from benchsync_dagster.defs.poll.assets import registry_poll
from benchsync_dagster.defs.resources import SYNC_RUN_TIMEOUT_SECONDS, PostgresResource
from benchsync_dagster.defs.sync.jobs import MAX_RETRIES_TAG, MAX_RUNTIME_TAG
from benchsync_dagster.poll_deferral import YIELDS_TO_BURSTS_TAG, burst_waiting, skips_tick

POLL_INTERVAL_VARIABLE = "BENCHSYNC_POLL_INTERVAL_SECONDS"
DEFAULT_POLL_INTERVAL_SECONDS = 300
# The sensor's cursor after a tick it skipped for a burst (empty after one that polled).
SKIPPED_FOR_BURST = "skipped-for-burst"

poll_job = dg.define_asset_job(
    "poll_job",
    selection=dg.AssetSelection.assets(registry_poll),
    executor_def=dg.in_process_executor,
    description="List every entity type changed since the last poll, archived included.",
    # A poll launched by hand gets the default limit; poll_sensor's carry the configured one.
    # Not retried by the daemon: the sensor requests the next poll every interval anyway.
    tags={MAX_RUNTIME_TAG: str(SYNC_RUN_TIMEOUT_SECONDS), MAX_RETRIES_TAG: "0"},
)


def poll_sensor(
    interval_seconds: int, timeout_seconds: int = SYNC_RUN_TIMEOUT_SECONDS
) -> dg.SensorDefinition:
    """Requests one poll per ``interval_seconds`` (its run key names the interval), none while
    one is still queued or running. The tick only reads Dagster's runs and the inbox.

    While a burst waits in the inbox the tick is skipped, never twice in a row: the poll's list
    calls would take the rate limit's slots from the sync of the burst.

    Each poll is cancelled by run monitoring past ``timeout_seconds``: a poll orphaned by a
    crash would otherwise stay STARTED and hold back every later one. A cancelled poll loses
    nothing, the next goes on from the watermark its pages moved."""

    @dg.sensor(
        name="poll_sensor",
        job=poll_job,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def poll(context: dg.SensorEvaluationContext, postgres: PostgresResource) -> dg.SensorResult:
        running = dg.RunsFilter(job_name=poll_job.name, statuses=IN_FLIGHT_STATUSES)
        if context.instance.get_runs_count(running):
            return dg.SensorResult(skip_reason="the last poll is still running")
        skipped_last_tick = context.cursor == SKIPPED_FOR_BURST
        with postgres.transaction() as connection:
            burst = burst_waiting(connection)
        if skips_tick(burst, skipped_last_tick):
            return dg.SensorResult(
                skip_reason="a burst of webhook events waits in the inbox: the poll gives way"
                " to its sync for one interval",
                cursor=SKIPPED_FOR_BURST,
            )
        period = int(datetime.now(UTC).timestamp() // interval_seconds)
        tags = {
            MAX_RUNTIME_TAG: str(timeout_seconds),
            YIELDS_TO_BURSTS_TAG: "false" if skipped_last_tick else "true",
        }
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"poll-{period}", tags=tags)], cursor=""
        )

    return poll

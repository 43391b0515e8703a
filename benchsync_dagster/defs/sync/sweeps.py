"""Requeues of pending events the inbox sensor's cursor will not read again: events stranded
behind it, and events (or a cursor) restored from another server. A requeued event moves to
the end of the read order, where the sensor reads it as new."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from benchsync_dagster.batch_runs import batch_webhook_ids, cursor_at, position_from_cursor
from benchsync_dagster.defs.daemon import IN_FLIGHT_STATUSES
from benchsync_dagster.defs.resources import PostgresResource
from benchsync_dagster.defs.sync.jobs import sync_job
from benchsync_dagster.defs.sync.requests import requeue_request
from webhook_sensor_bridge import inbox

# At most this many stranded events are requeued per tick.
STRANDED_SWEEP_LIMIT = 10_000
# A requeue of rows from another server that did not take is asked for again this often.
RESTORED_REQUEUE_PERIOD_SECONDS = 60


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


def from_another_server(
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

"""From recorded webhooks to runs: ``inbox_sensor``.

A tick only reads (the inbox, the stored App configuration, Dagster's runs) and requests runs;
whatever writes or calls Benchling happens in those runs. So "Preview tick" in the UI changes
nothing, and no tick waits on Benchling's rate limit.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from benchsync_dagster.batch_decisions import BatchAttempt, runs_allowed
from benchsync_dagster.batch_runs import cursor_at, position_from_cursor
from benchsync_dagster.batching import PendingEvent, plan_batches
from benchsync_dagster.defs.daemon import EVERY_DAEMON_LOOP_SECONDS, IN_FLIGHT_STATUSES
from benchsync_dagster.defs.resources import PostgresResource, SyncSettings
from benchsync_dagster.defs.sync.jobs import app_configuration_job, requeue_job, sync_job
from benchsync_dagster.defs.sync.requests import app_configuration_request, sync_request
from benchsync_dagster.defs.sync.sweeps import from_another_server, stranded_sweep
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


def _runs_in_flight(instance: dg.DagsterInstance) -> int:
    filters = dg.RunsFilter(job_name=sync_job.name, statuses=IN_FLIGHT_STATUSES)
    return int(instance.get_runs_count(filters))


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
    return app_configuration_request(
        f"app-configuration-rebuild-{target.schema_id}-{target.field_name}-{period}"
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
    restart = from_another_server(context, postgres)
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
    max_in_flight = runs_allowed(settings.max_runs_in_flight, benchling_down=outage is not None)
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
        requests.append(
            app_configuration_request(
                f"app-configuration-{span.name}",
                webhook_ids=[e.webhook_id for e in config_updates],
                batch=span.name,
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
        first = BatchAttempt(
            run_key=run_key,
            batch=run_key,
            config_batch=run_key,
            webhook_ids=[event.webhook_id for event in batch],
            attempt=1,
        )
        requests.append(sync_request(first, settings.run_timeout_seconds))
    # Held-back events (the tail of an arriving burst) are read again next tick.
    last = plan.taken[-1].position if len(plan.taken) < len(to_sync) else read.rows[-1].position
    return dg.SensorResult(run_requests=requests, cursor=cursor_at(last))

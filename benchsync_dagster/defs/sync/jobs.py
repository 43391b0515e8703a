"""The jobs the sensors request: a batch's sync, a read of the App configuration, a requeue."""

import dagster as dg

from benchsync_dagster.defs.resources import SYNC_RUN_TIMEOUT_SECONDS, PostgresResource
from benchsync_dagster.defs.sync.assets import (
    benchling_app_configuration,
    benchling_entity_snapshots,
    synced_benchling_data,
)
from benchsync_dagster.defs.sync.checks import no_event_pending_too_long, no_recent_dead_letters
from webhook_sensor_bridge import inbox

# Dagster's run monitoring reads a run's time limit from this tag. Every job has one: the
# default run launcher cannot see a dead run process, so only the limit ends a run a crash
# orphaned (STARTED for good, holding its pool slot).
MAX_RUNTIME_TAG = "dagster/max_runtime"
REBUILD_TIMEOUT_SECONDS = 3600
# The daemon's run retries (dagster.yaml's run_retries) read a run's own limit from this tag.
MAX_RETRIES_TAG = "dagster/max_retries"

# Two steps are cheaper in one process than one process each (a step costs ~1.2 s of its own
# under the multiprocess executor; docs/architecture.md).
sync_job = dg.define_asset_job(
    "sync_job",
    # With the inbox's checks, which ran after every sync when they were the table's.
    selection=dg.AssetSelection.assets(benchling_entity_snapshots, synced_benchling_data)
    | dg.AssetSelection.checks(no_event_pending_too_long, no_recent_dead_letters),
    executor_def=dg.in_process_executor,
    description="Sync one batch of recorded webhook events (requested by inbox_sensor).",
    # Run monitoring (dagster.yaml) cancels a run still going after this; the sensors tag the
    # runs they request with SyncSettings.run_timeout_seconds instead. Not retried by the daemon:
    # retry_failed_batches is a batch's only retrier, so no failure falls between two.
    tags={MAX_RUNTIME_TAG: str(SYNC_RUN_TIMEOUT_SECONDS), MAX_RETRIES_TAG: "0"},
)

app_configuration_job = dg.define_asset_job(
    "app_configuration_job",
    selection=dg.AssetSelection.assets(benchling_app_configuration),
    executor_def=dg.in_process_executor,
    description="Read the App configuration from Benchling; rebuild synced_benchling_data when"
    " it changed (requested by inbox_sensor for a configuration webhook, or for a change a"
    " sync run read).",
    # A rebuild reads every snapshot of the schema: it may take far longer than a batch.
    tags={MAX_RUNTIME_TAG: str(REBUILD_TIMEOUT_SECONDS)},
)


class RequeueConfig(dg.Config):
    """Which events to make pending again (see ``inbox.Replay``), and why."""

    reason: str
    state: str | None = "pending"
    webhook_ids: list[str] | None = None
    batch: str | None = None
    """Only events still within this batch's span (one requeued since has left it)."""


@dg.op
def requeue_events(
    context: dg.OpExecutionContext, config: RequeueConfig, postgres: PostgresResource
) -> None:
    """Requeue the events the config selects, each moving to the end of the read order."""
    replay = inbox.Replay(
        state=config.state,
        webhook_ids=config.webhook_ids,
        batch=inbox.BatchSpan.parse(config.batch) if config.batch else None,
    )
    with postgres.transaction() as connection:
        requeued = sum(inbox.requeue(connection, replay).values())
    context.log.warning(f"requeued {requeued} events: {config.reason}")


@dg.job(
    description="Make inbox events pending again (requested by inbox_sensor's sweeps).",
    tags={MAX_RUNTIME_TAG: str(SYNC_RUN_TIMEOUT_SECONDS)},
)
def requeue_job() -> None:
    requeue_events()

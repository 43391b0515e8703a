"""The Dagster code location: ``dagster dev -m benchsync_dagster`` loads ``defs``."""

from __future__ import annotations

import dagster as dg

from benchsync_dagster.orchestration.reconciliation.assets import registry_reconciliation
from benchsync_dagster.orchestration.reconciliation.schedules import (
    reconciliation_job,
    reconciliation_schedule,
)
from benchsync_dagster.orchestration.resources import BenchlingResource, PostgresResource
from benchsync_dagster.orchestration.sync.assets import (
    benchling_entity_snapshots,
    benchling_registry,
    synced_benchling_data,
)
from benchsync_dagster.orchestration.sync.checks import (
    no_event_pending_too_long,
    one_row_per_entity,
)
from benchsync_dagster.orchestration.sync.jobs import sync_job
from benchsync_dagster.orchestration.sync.sensors import inbox_sensor, retry_failed_batches

defs = dg.Definitions(
    assets=[
        benchling_registry,
        benchling_entity_snapshots,
        synced_benchling_data,
        registry_reconciliation,
    ],
    asset_checks=[one_row_per_entity, no_event_pending_too_long],
    jobs=[sync_job, reconciliation_job],
    sensors=[inbox_sensor, retry_failed_batches],
    schedules=[reconciliation_schedule],
    resources={
        "postgres": PostgresResource(database_url=dg.EnvVar("BENCHSYNC_DATABASE_URL")),
        "benchling": BenchlingResource(),
    },
)

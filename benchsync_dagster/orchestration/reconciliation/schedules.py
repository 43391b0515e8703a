"""The reconciliation job, nightly by default (BENCHSYNC_RECONCILE_CRON)."""

from __future__ import annotations

import dagster as dg

from benchsync_dagster.orchestration.reconciliation.assets import registry_reconciliation
from benchsync_dagster.settings import SyncSettings

reconciliation_job = dg.define_asset_job(
    "reconciliation_job",
    selection=dg.AssetSelection.assets(registry_reconciliation),
    executor_def=dg.in_process_executor,
    description="List the registry and repair rows the webhooks missed. Config: full=true lists"
    " everything, archived included, and compares ids.",
)

reconciliation_schedule = dg.ScheduleDefinition(
    name="reconciliation_schedule",
    job=reconciliation_job,
    cron_schedule=SyncSettings.from_env().reconcile_cron,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

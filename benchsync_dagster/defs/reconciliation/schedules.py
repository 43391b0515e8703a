"""The reconciliation job, and its schedule: a full reconciliation nightly unless
BENCHSYNC_RECONCILE_CRON says when (the poll covers the changes in between)."""

from __future__ import annotations

import dagster as dg

from benchsync_core.settings import ConfigurationError
from benchsync_dagster.defs.reconciliation.assets import registry_reconciliation
from benchsync_dagster.defs.sync.jobs import MAX_RUNTIME_TAG

RECONCILE_CRON_VARIABLE = "BENCHSYNC_RECONCILE_CRON"
DEFAULT_RECONCILE_CRON = "0 2 * * *"
FULL_RECONCILIATION = {"ops": {"registry_reconciliation": {"config": {"full": True}}}}
# A full listing keeps nothing until its end, so the limit must outlast the largest tenant's: a
# day lists about 5.8 million entities at 20 requests per 30 s (100 a page). It still ends a run
# a crash orphaned, and frees its pool slot, rather than never.
RECONCILIATION_TIMEOUT_SECONDS = 24 * 3600

reconciliation_job = dg.define_asset_job(
    "reconciliation_job",
    selection=dg.AssetSelection.assets(registry_reconciliation),
    executor_def=dg.in_process_executor,
    description="List every entity type and repair what the webhooks and polls missed. Config:"
    " full=true (the schedule's) lists everything, archived included, and marks archived what"
    " Benchling no longer returns; full=false lists each type's changes since its watermark.",
    tags={MAX_RUNTIME_TAG: str(RECONCILIATION_TIMEOUT_SECONDS)},
)


def reconciliation_schedule(cron: str | None) -> dg.ScheduleDefinition:
    """The schedule on ``cron`` (None: nightly at 02:00).

    A cron Dagster rejects must not stop the code location from loading: the schedule then
    keeps the default cadence and every tick fails with a message naming the variable.
    """
    try:
        return _schedule(cron or DEFAULT_RECONCILE_CRON, run_config=FULL_RECONCILIATION)
    except dg.DagsterInvalidDefinitionError:
        problem = f"{RECONCILE_CRON_VARIABLE} is not a cron expression: {cron!r}"

    def refuse(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        raise ConfigurationError(problem)

    return _schedule(DEFAULT_RECONCILE_CRON, execution_fn=refuse)


def _schedule(cron: str, **execution: object) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="reconciliation_schedule",
        job=reconciliation_job,
        cron_schedule=cron,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        **execution,  # type: ignore[arg-type]
    )

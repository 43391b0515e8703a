"""Driving benchsync's Dagster definitions in the test process, resources set field by field.

Only what a function can show is tested this way; what the daemon decides (run keys, retries)
is tested through a running ``dagster dev`` (tests/end_to_end).
"""

from __future__ import annotations

import dagster as dg

from benchsync_dagster.benchling.app_config import SyncTarget, read_sync_target
from benchsync_dagster.defs.sync.sensors import batch_run_config, inbox_sensor
from tests.support.tenant import Tenant


def evaluate_inbox_sensor(
    instance: dg.DagsterInstance, tenant: Tenant, cursor: str | None = None, **sync_settings: int
) -> dg.SensorResult | dg.SkipReason:
    """One tick of ``inbox_sensor`` over ``tenant``'s inbox, with these SyncSettings fields."""
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=tenant.resources(**sync_settings)
    ) as context:
        result = inbox_sensor(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def sync_target(tenant: Tenant) -> SyncTarget:
    """The App configuration, read as the sensor reads it."""
    with dg.build_resources({"benchling": tenant.benchling_resource()}) as resources:
        return read_sync_target(resources.benchling.client, tenant.emulator.settings.app_id)


def run_batch(
    tenant: Tenant,
    webhook_ids: list[str],
    target: SyncTarget,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """``sync_job`` over these inbox events, as the sensor would request it."""
    job = tenant.definitions().resolve_job_def("sync_job")
    result: dg.ExecuteInProcessResult = job.execute_in_process(
        run_config=batch_run_config(webhook_ids, target),
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return result

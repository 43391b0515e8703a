"""Driving benchsync's Dagster definitions in the test process, resources set field by field.

Only what a function can show is tested this way; what the daemon decides (run keys, retries)
is tested through a running ``dagster dev`` (tests/end_to_end).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from benchsync_dagster.batch_runs import batch_run_config
from benchsync_dagster.benchling.app_config import read_sync_target
from benchsync_dagster.defs.sync.inbox_sensor import inbox_sensor
from benchsync_dagster.storage.app_configuration import SyncTarget
from tests.support.tenant import Tenant


def evaluate_inbox_sensor(
    instance: dg.DagsterInstance, tenant: Tenant, cursor: str | None = None, **sync_settings: Any
) -> dg.SensorResult:
    """One tick of ``inbox_sensor`` over ``tenant``'s inbox, with these SyncSettings fields."""
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=tenant.resources(**sync_settings)
    ) as context:
        result = inbox_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def requests_for(result: dg.SensorResult, job_name: str) -> list[dg.RunRequest]:
    return [r for r in result.run_requests or [] if r.job_name == job_name]


def execute_request(
    tenant: Tenant,
    request: dg.RunRequest,
    instance: dg.DagsterInstance | None = None,
    **resources: dg.ConfigurableResource[Any],
) -> dg.ExecuteInProcessResult:
    """The run a sensor requested, executed here as the daemon would launch it (with any of
    the resources replaced)."""
    assert request.job_name is not None
    job = tenant.definitions(**resources).resolve_job_def(request.job_name)
    result: dg.ExecuteInProcessResult = job.execute_in_process(
        run_config=request.run_config,
        tags=request.tags,
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return result


def sync_target(tenant: Tenant) -> SyncTarget:
    """The App configuration, as Benchling (the emulator) has it now."""
    with dg.build_resources({"benchling": tenant.benchling_resource()}) as resources:
        return read_sync_target(resources.benchling.client, tenant.emulator.settings.app_id)


def run_batch(
    tenant: Tenant,
    webhook_ids: list[str],
    instance: dg.DagsterInstance | None = None,
    batch: str = "",
) -> dg.ExecuteInProcessResult:
    """``sync_job`` over these inbox events, as the sensor would request it (a run launched by
    hand when ``batch`` is empty)."""
    job = tenant.definitions().resolve_job_def("sync_job")
    result: dg.ExecuteInProcessResult = job.execute_in_process(
        run_config=batch_run_config(webhook_ids, batch or None),
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return result


def materialization_of(result: dg.ExecuteInProcessResult, asset: str) -> dg.AssetMaterialization:
    """The run's materialization of ``asset`` by its own step (a step may log others, of the
    typed tables it wrote)."""
    (materialization,) = [
        m
        for m in result.asset_materializations_for_node(asset)
        if m.asset_key == dg.AssetKey(asset)
    ]
    return materialization


def validate_code_location(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """``dagster definitions validate`` of the code location workspace.yaml names, with these
    environment variables set, on a throwaway instance (the repository's dagster.yaml wants the
    demo's Postgres)."""
    dagster = Path(sys.executable).parent / "dagster"
    workspace = Path(__file__).resolve().parents[2] / "workspace.yaml"
    return subprocess.run(
        [str(dagster), "definitions", "validate", "-w", str(workspace)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path), **environment},
        cwd=tmp_path,
    )

"""``fail_orphaned_runs`` over a real instance and database, in this process: a run whose
heartbeat stopped is failed, and a slow run whose process lives is never. What a killed
``dagster dev`` leaves, through the real daemon: tests/faults/test_dagster_killed.py."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dagster as dg
import psycopg
import pytest

from benchsync_dagster.batch_runs import batch_run_config
from benchsync_dagster.defs.liveness.sensors import BEATING_JOBS, fail_orphaned_runs
from benchsync_dagster.defs.resources import SyncSettings
from benchsync_dagster.storage import run_heartbeats
from tests.support.dagster import run_batch
from tests.support.tenant import Tenant, pending_webhook_ids, register

# Shortened, as a deployment could set them: beats every second, silent after three.
INTERVAL_SECONDS, STALE_SECONDS = 1, 3
QUICK = {"heartbeat_interval_seconds": INTERVAL_SECONDS, "heartbeat_stale_seconds": STALE_SECONDS}
CONFIRM_SECONDS = 3 * INTERVAL_SECONDS


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def tick(instance: dg.DagsterInstance, tenant: Tenant, cursor: str | None) -> str | None:
    """One tick of the sensor; the cursor it leaves."""
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=tenant.resources(**QUICK)
    ) as context:
        fail_orphaned_runs(context)
        return context.cursor


def started_run(instance: dg.DagsterInstance, job_name: str) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name=job_name, run_id=run_id, status=dg.DagsterRunStatus.STARTED)
    )
    return run_id


def status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def test_a_run_whose_heartbeat_stopped_is_failed_and_says_why(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    orphan = started_run(instance, "sync_job")
    alive = started_run(instance, "poll_job")
    not_beating = started_run(instance, "requeue_job")  # not a job that beats: not judged
    db.execute(
        "INSERT INTO benchsync.run_heartbeats VALUES (%s, 'sync_job', now() - interval '1 hour')",
        [orphan],
    )
    run_heartbeats.beat(db, alive, "poll_job")
    slots = instance.event_log_storage
    slots.set_concurrency_slots("benchling_api", 2)
    slots.claim_concurrency_slot("benchling_api", orphan, "benchling_entity_snapshots")

    cursor = tick(instance, tenant, None)
    assert status(instance, orphan) == dg.DagsterRunStatus.STARTED  # found silent once
    threading.Event().wait(CONFIRM_SECONDS)  # the second look comes a few intervals later
    run_heartbeats.beat(db, alive, "poll_job")
    tick(instance, tenant, cursor)

    assert status(instance, orphan) == dg.DagsterRunStatus.FAILURE
    assert status(instance, alive) == dg.DagsterRunStatus.STARTED
    assert status(instance, not_beating) == dg.DagsterRunStatus.STARTED
    (failure,) = instance.all_logs(orphan, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert failure.message.startswith("Orphaned run: no heartbeat from its process for")
    # Its pool slot is freed at once: the queue holds the runs that need it until then.
    assert slots.get_concurrency_info("benchling_api").active_run_ids == set()


def test_every_job_judged_keeps_a_heartbeat_over_the_whole_run(tenant: Tenant) -> None:
    """A judged job runs in one process, which sets up its steps' resources once, the heartbeat
    among them: its run beats from start to end (waits for a pool slot included), so none is
    failed alive."""
    definitions = tenant.definitions()
    for job in BEATING_JOBS:
        resolved = definitions.resolve_job_def(job.name)
        assert resolved.executor_def.name == dg.in_process_executor.name, job.name
        required = {
            key
            for node in resolved.nodes_in_topological_order
            if isinstance(node.definition, dg.OpDefinition)
            for key in node.definition.required_resource_keys
        }
        assert "run_heartbeat" in required, job.name


def test_a_slow_run_whose_process_lives_is_never_failed(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    register(tenant, 1)
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success  # config stored
    register(tenant, 1)
    job = tenant.definitions(
        sync_settings=SyncSettings(
            heartbeat_interval_seconds=INTERVAL_SECONDS, heartbeat_stale_seconds=STALE_SECONDS
        )
    ).resolve_job_def("sync_job")
    results: list[dg.ExecuteInProcessResult] = []
    with psycopg.connect(tenant.database_url) as holder:
        # Writing synced rows takes this row FOR SHARE: the run's second step waits, alive.
        holder.execute("SELECT 1 FROM benchsync.app_configuration FOR UPDATE")
        run_config = batch_run_config(pending_webhook_ids(tenant.database_url), None)

        def execute() -> None:
            # An instance of its own on the same storage, as a run worker has.
            with dg.DagsterInstance.from_ref(instance.get_ref()) as its_instance:
                results.append(
                    job.execute_in_process(
                        run_config=run_config, instance=its_instance, raise_on_error=False
                    )
                )

        run = threading.Thread(target=execute)
        run.start()
        run_id = _wait_for_a_heartbeat(db, instance)
        # Past the threshold and the second look, twice over, the sensor ticking all along.
        cursor, until = None, time.monotonic() + 2 * (STALE_SECONDS + CONFIRM_SECONDS)
        while time.monotonic() < until:
            cursor = tick(instance, tenant, cursor)
            assert status(instance, run_id) == dg.DagsterRunStatus.STARTED
            threading.Event().wait(0.5)
        holder.rollback()
    run.join()
    (result,) = results
    assert result.success
    assert status(instance, run_id) == dg.DagsterRunStatus.SUCCESS


def _wait_for_a_heartbeat(
    db: psycopg.Connection[Any], instance: dg.DagsterInstance, timeout: float = 60
) -> str:
    """The run of ``instance`` that beats, once it does."""
    deadline = time.monotonic() + timeout
    while True:
        run_ids = [run.run_id for run in instance.get_runs()]
        if run_heartbeats.last_beats(db, run_ids):
            (run_id,) = run_heartbeats.last_beats(db, run_ids)
            return run_id
        assert time.monotonic() < deadline, "no run beat"
        threading.Event().wait(0.1)

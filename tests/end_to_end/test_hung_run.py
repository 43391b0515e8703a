"""A sync run that hangs with its process alive — here its step waits on a lock the test holds —
is stopped by run monitoring once past its ``dagster/max_runtime``, through the real daemon."""

from __future__ import annotations

from typing import Any

import psycopg

from benchsync.demo.progress import wait_until_synced
from benchsync.demo.stack import Stack
from benchsync_dagster.defs.sync.jobs import MAX_RUNTIME_TAG
from tests.support.dagster_api import launch_run, run_messages, wait_for_run_end

SYNC_STEPS = ("benchling_entity_snapshots", "synced_benchling_data")
MAX_RUNTIME_SECONDS = 20
# dagster.yaml: run monitoring polls every 15 s and gives a cancelled run 60 s to stop.
ENDS_WITHIN_SECONDS = MAX_RUNTIME_SECONDS + 15 + 60 + 15


def test_a_run_hanging_past_its_max_runtime_is_stopped_by_run_monitoring(
    stack: Stack, db: psycopg.Connection[Any], stack_database_url: str
) -> None:
    assert stack.emulator is not None
    entity_ids = stack.emulator.tenant.create_registered(1)
    wait_until_synced(stack, entity_ids, timeout=60)  # the App configuration is stored

    with psycopg.connect(stack_database_url) as holder:
        # Writing synced rows takes this row FOR SHARE: the run's second step waits, alive.
        holder.execute("SELECT 1 FROM benchsync.app_configuration FOR UPDATE")
        # As "Materialize" with a config naming an entity would launch it from the UI.
        config = {"entity_ids": entity_ids}
        run_config = {"ops": {step: {"config": config} for step in SYNC_STEPS}}
        run_id = launch_run(
            stack, "sync_job", run_config, {MAX_RUNTIME_TAG: str(MAX_RUNTIME_SECONDS)}
        )
        status, took = wait_for_run_end(stack, run_id, timeout=ENDS_WITHIN_SECONDS)
        holder.rollback()

    print(f"hung run ended {status} {took:.1f} s after it was launched")
    assert status in ("FAILURE", "CANCELED")
    assert any("maximum runtime" in message for message in run_messages(stack, run_id))

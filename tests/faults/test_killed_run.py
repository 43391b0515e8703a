"""A sync run's process killed with SIGKILL, through the real daemon: the run is reported failed
and retried, and the pool slot its step held is given back (a `finally` SIGKILL skips would)."""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Any

import httpx
import psycopg

from benchsync.demo.progress import wait_until_synced
from benchsync.demo.stack import Stack
from tests.support.dagster_api import run_messages, started_sync_run, wait_for_run_end

SLOTS_QUERY = """
query { instance { concurrencyLimit(concurrencyKey: "benchling_api") {
  claimedSlots { runId stepKey } } } }
"""
# dagster.yaml: free_slots_after_run_end_seconds 30, run monitoring polling every 15 s.
SLOTS_FREED_WITHIN_SECONDS = 90


def run_process_id(stack: Stack, run_id: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in run_messages(stack, run_id):
            found = re.search(r"pid: (\d+)", message)
            if found:
                return int(found[1])
        time.sleep(0.25)
    raise AssertionError(f"run {run_id} logged no process id")


def slots_held_by(stack: Stack, run_id: str) -> int:
    claimed = stack.graphql(SLOTS_QUERY)["instance"]["concurrencyLimit"]["claimedSlots"]
    return sum(slot["runId"] == run_id for slot in claimed)


def test_a_killed_run_is_retried_and_its_pool_slot_freed(
    stack: Stack, db: psycopg.Connection[Any]
) -> None:
    assert stack.emulator is not None
    faults = f"{stack.emulator.base_url}/_emulator/faults"
    httpx.post(faults, json={"rate_limit": 1}).raise_for_status()  # the step waits, slot held
    try:
        entity_ids = stack.emulator.tenant.create_registered(150)
        run_id = started_sync_run(stack, db, entity_ids)
        deadline = time.monotonic() + 30
        while not slots_held_by(stack, run_id):
            assert time.monotonic() < deadline, "the step never claimed its pool slot"
            time.sleep(0.25)

        os.kill(run_process_id(stack, run_id), signal.SIGKILL)
        status, detected_after = wait_for_run_end(stack, run_id, timeout=30)

        assert status == "FAILURE"
        print(f"killed run reported {status} after {detected_after:.1f} s")
        freeing = time.monotonic()
        while slots_held_by(stack, run_id):
            assert time.monotonic() - freeing < SLOTS_FREED_WITHIN_SECONDS, "slot still held"
            time.sleep(1)
        print(f"its pool slot freed {time.monotonic() - freeing:.1f} s later")
    finally:
        httpx.post(faults, json={"rate_limit": stack.options.rate_limit}).raise_for_status()

    # The daemon retried the run (dagster.yaml's run_retries): every event ends synced.
    progress = wait_until_synced(stack, entity_ids, timeout=180)
    assert (progress.synced, progress.dead) == (len(entity_ids), 0)

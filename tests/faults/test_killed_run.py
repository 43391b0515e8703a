"""A sync run's process killed with SIGKILL mid-batch, through the real daemon: the run is
reported failed, ``retry_failed_batches`` requests its batch's next attempt (not the daemon's
run retries: sync runs opt out of them) and that run completes, the pool slot the killed step
held is given back (a `finally` SIGKILL skips would), and every entity ends mirrored."""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Any

import httpx
import psycopg
import pytest

from benchsync.demo.stack import Stack
from tests.support.consistency import assert_mirrored
from tests.support.dagster_api import run_messages, started_sync_run, wait_for_run_end

SLOTS_QUERY = """
query { instance { concurrencyLimit(concurrencyKey: "benchling_api") {
  claimedSlots { runId stepKey } } } }
"""
BATCH_QUERY = """
query Batch($runId: ID!) { runOrError(runId: $runId) { ... on Run { tags { key value } } } }
"""
ATTEMPT_QUERY = """
query Attempt($batch: String!, $attempt: String!) {
  runsOrError(filter: {tags: [{key: "benchsync/batch", value: $batch},
                              {key: "benchsync/attempt", value: $attempt}]}) {
    ... on Runs { results { runId } }
  }
}
"""
DAEMON_RETRIES_QUERY = """
query Retries($parent: String!) {
  runsOrError(filter: {tags: [{key: "dagster/parent_run_id", value: $parent}]}) {
    ... on Runs { results { runId } }
  }
}
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


def next_attempt_of(stack: Stack, run_id: str, timeout: float = 60) -> str:
    """The run ``retry_failed_batches`` requested for the failed run's batch: its second
    attempt."""
    tags = stack.graphql(BATCH_QUERY, {"runId": run_id})["runOrError"]["tags"]
    batch = next(tag["value"] for tag in tags if tag["key"] == "benchsync/batch")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        variables = {"batch": batch, "attempt": "2"}
        answer = stack.graphql(ATTEMPT_QUERY, variables)["runsOrError"]["results"]
        if answer:
            return str(answer[0]["runId"])
        time.sleep(0.5)
    raise AssertionError(f"no second attempt of batch {batch} within {timeout} s")


@pytest.mark.timeout(420)
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
        killed_at = time.monotonic()
        status, detected_after = wait_for_run_end(stack, run_id, timeout=60)
    finally:
        httpx.post(faults, json={"rate_limit": stack.options.rate_limit}).raise_for_status()
    print(f"\nthe killed run was reported {status} {detected_after:.1f} s after the kill")
    assert status == "FAILURE"

    retry_status, _ = wait_for_run_end(stack, next_attempt_of(stack, run_id), timeout=180)
    retried_after = time.monotonic() - killed_at
    print(f"its batch's second attempt ended {retry_status} {retried_after:.0f} s after the kill")
    assert retry_status == "SUCCESS"
    daemon_retries = stack.graphql(DAEMON_RETRIES_QUERY, {"parent": run_id})["runsOrError"]
    assert daemon_retries["results"] == [], "the daemon retried a sync run too"

    while slots_held_by(stack, run_id):
        assert time.monotonic() - killed_at < SLOTS_FREED_WITHIN_SECONDS, "slot still held"
        time.sleep(1)
    print(f"its pool slot was freed {time.monotonic() - killed_at:.1f} s after the kill")
    assert_mirrored(stack.emulator, db, entity_ids, timeout=180)

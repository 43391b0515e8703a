"""A sync run terminated from the UI stops within seconds, and its events do not strand."""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg

from benchsync.demo.stack import Stack
from tests.support.dagster_api import started_sync_run, wait_for_run_end

TERMINATE = """
mutation Terminate($runId: String!) {
  terminateRun(runId: $runId, terminatePolicy: SAFE_TERMINATE) {
    __typename ... on TerminateRunFailure { message }
  }
}
"""
STOP_WITHIN_SECONDS = 15


def test_a_terminated_run_ends_canceled_and_its_events_dead_lettered_saying_so(
    stack: Stack, db: psycopg.Connection[Any]
) -> None:
    assert stack.emulator is not None
    faults = f"{stack.emulator.base_url}/_emulator/faults"
    # One request per 30 s: each run spends minutes waiting out 429s, unless it is stopped.
    httpx.post(faults, json={"rate_limit": 1}).raise_for_status()
    try:
        entity_ids = stack.emulator.tenant.create_registered(400)
        run_id = started_sync_run(stack, db, entity_ids)
        time.sleep(2)  # well into the fetch

        answer = stack.graphql(TERMINATE, {"runId": run_id})
        assert answer["terminateRun"]["__typename"] == "TerminateRunSuccess", answer
        current, _ = wait_for_run_end(stack, run_id, timeout=STOP_WITHIN_SECONDS)
        assert current == "CANCELED"
    finally:
        httpx.post(faults, json={"rate_limit": stack.options.rate_limit}).raise_for_status()

    deadline = time.monotonic() + 60
    while True:
        dead = db.execute(
            "SELECT count(*), min(reason) FROM benchsync.inbox"
            " WHERE resource_id = ANY(%s) AND state = 'dead'",
            [entity_ids],
        ).fetchone()
        assert dead is not None
        if dead[0]:
            break
        assert time.monotonic() < deadline, "the cancelled run's events were not settled"
        time.sleep(0.5)
    assert f"the sync run {run_id} was cancelled" in dead[1]
    assert "benchsync replay --batch" in dead[1]

"""A Benchling outage of five minutes, starting while a sync run is fetching, through the real
daemon: the sync pauses (one run probing, its step waiting the outage out), the outage shows in
``benchsync.benchling_outage``, and once Benchling answers everything ends synced, none dead."""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg
import pytest

from benchsync.demo.progress import wait_until_synced
from benchsync.demo.stack import Stack
from benchsync_dagster.storage import benchling_outage
from tests.support.dagster_api import started_sync_run

OUTAGE_SECONDS = 300


def entity_requests(stack: Stack) -> int:
    assert stack.emulator is not None
    stats = httpx.get(f"{stack.emulator.base_url}/_emulator/stats").json()
    return sum(count for route, count in stats["requests"].items() if "custom-entities" in route)


@pytest.mark.slow
@pytest.mark.timeout(OUTAGE_SECONDS + 600)
def test_a_five_minute_outage_mid_fetch_ends_with_everything_synced_and_nothing_dead(
    stack: Stack, db: psycopg.Connection[Any]
) -> None:
    assert stack.emulator is not None
    faults = f"{stack.emulator.base_url}/_emulator/faults"
    # Benchling's own limit far below ours: the fetch crawls, so the outage lands inside it.
    httpx.post(faults, json={"rate_limit": 2}).raise_for_status()
    try:
        entity_ids = stack.emulator.tenant.create_registered(600)
        started_sync_run(stack, db, entity_ids)
        before = entity_requests(stack)
        deadline = time.monotonic() + 60
        while entity_requests(stack) == before:
            assert time.monotonic() < deadline, "the run never began fetching"
            time.sleep(0.2)

        httpx.post(faults, json={"fail_rate": 1.0, "fail_statuses": [503]}).raise_for_status()
        time.sleep(OUTAGE_SECONDS / 2)
        outage = benchling_outage.current(db)
        dead_meanwhile = db.execute(
            "SELECT count(*) FROM benchsync.inbox WHERE state = 'dead' AND resource_id = ANY(%s)",
            [entity_ids],
        ).fetchone()
        time.sleep(OUTAGE_SECONDS / 2)
    finally:
        restore = {"fail_rate": 0.0, "rate_limit": stack.options.rate_limit}
        httpx.post(faults, json=restore).raise_for_status()

    assert outage is not None and "503" in outage.last_error
    assert dead_meanwhile == (0,)
    progress = wait_until_synced(stack, entity_ids, timeout=300)
    assert (progress.synced, progress.dead) == (len(entity_ids), 0)
    assert benchling_outage.current(db) is None

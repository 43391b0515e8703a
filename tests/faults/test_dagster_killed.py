"""The whole ``dagster dev`` (webserver, daemon, code server, run workers) killed with SIGKILL
during a burst and started again on the same instance: the run it orphaned (STARTED for good:
the default run launcher cannot see its worker is gone) is failed by run monitoring past its
time limit, the events that arrived meanwhile are synced by new runs, and no event is left
stranded. Nor is any run: every job's runs have a time limit, so the orphaned poll (it crawls
too) ends as well, and polls go on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from benchsync.demo.stack import Stack
from tests.support.consistency import assert_mirrored, wait_until_settled
from tests.support.dagster_api import (
    run_status,
    started_sync_run,
    wait_for_run_end,
    wait_until_no_run_in_flight,
)
from tests.support.stack import running_stack
from tests.support.tenant import entities_in_inbox

pytestmark = pytest.mark.faults

# Sync and poll runs time out after a minute (default 600 s), so the orphans end within the
# test; loaded, this machine's longest healthy sync run took about 45 s.
RUN_TIMEOUT_SECONDS = 60
FIRST_BATCH = 200
BURST = 1_200


@pytest.fixture(scope="module")
def stack(
    stack_database_url: str, postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The module's stack (tests/faults/conftest.py), its sync runs timing out sooner."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("BENCHSYNC_RUN_TIMEOUT_SECONDS", str(RUN_TIMEOUT_SECONDS))
        home = tmp_path_factory.mktemp("stack")
        with running_stack(stack_database_url, postgres_server_url, home) as running:
            yield running


@pytest.mark.timeout(720)
def test_no_event_is_stranded_when_dagster_is_killed_mid_burst(
    stack: Stack, db: psycopg.Connection[Any]
) -> None:
    assert stack.emulator is not None
    faults = f"{stack.emulator.base_url}/_emulator/faults"
    httpx.post(faults, json={"rate_limit": 1}).raise_for_status()  # a run crawls: the orphan
    try:
        first = stack.emulator.tenant.create_registered(FIRST_BATCH)
        orphan = started_sync_run(stack, db, first)
        burst = stack.emulator.tenant.create_registered(BURST)
        while (recorded := entities_in_inbox(stack.database_url, burst)) < BURST // 3:
            time.sleep(0.1)
        dagster = stack.child("dagster")
        dagster.kill()  # webserver, daemon, code server and run workers: the whole group
        stack.children.remove(dagster)
        killed_at, killed_at_unix = time.monotonic(), time.time()
    finally:
        httpx.post(faults, json={"rate_limit": stack.options.rate_limit}).raise_for_status()
    stack.start_dagster()
    restarted_after = time.monotonic() - killed_at
    print(
        f"\ndagster dev killed with {recorded} of the burst's {BURST} events recorded;"
        f" it answered again {restarted_after:.0f} s later"
    )
    assert run_status(stack, orphan) == "STARTED"  # what the crash left

    orphan_status, _ = wait_for_run_end(stack, orphan, timeout=240)
    print(f"the orphaned run ended {orphan_status} {time.monotonic() - killed_at:.0f} s after")
    assert orphan_status == "FAILURE"
    entity_ids = first + burst
    # A run the crash caught launching stays STARTING until run monitoring's start timeout
    # (180 s) fails it; its batch is retried after that.
    wait_until_settled(db, entity_ids, timeout=300)
    print(f"every event settled {time.monotonic() - killed_at:.0f} s after the kill")
    assert_mirrored(stack.emulator, db, entity_ids, timeout=60)
    wait_until_no_run_in_flight(stack, created_before=killed_at_unix, timeout=120)
    print(f"no run from before the kill in flight {time.monotonic() - killed_at:.0f} s after it")

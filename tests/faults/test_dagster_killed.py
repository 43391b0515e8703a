"""The whole ``dagster dev`` killed mid-run and started again on the same instance: the run it
orphaned (STARTED for good: the default run launcher cannot see its worker is gone) is cancelled
by run monitoring past its time limit, tried again, and every event ends synced."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from benchsync.demo.databases import dagster_storage_url
from benchsync.demo.progress import wait_until_synced
from benchsync.demo.stack import Stack
from tests.support.dagster_api import run_status, started_sync_run
from tests.support.postgres import create_database, drop_database

RUN_TIMEOUT_SECONDS = 15


@pytest.fixture
def crashable_stack(
    database_url: str, postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A stack of its own (this test kills its Dagster), whose sync runs time out quickly."""
    benchsync_database = create_database(postgres_server_url)
    dagster_database = create_database(postgres_server_url)
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("BENCHSYNC_DATABASE_URL", benchsync_database)
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_storage_url(dagster_database))
        monkeypatch.setenv("BENCHSYNC_RUN_TIMEOUT_SECONDS", str(RUN_TIMEOUT_SECONDS))
        with Stack.on_free_ports(tmp_path_factory.mktemp("crash")) as running:
            yield running
    drop_database(postgres_server_url, dagster_database)
    drop_database(postgres_server_url, benchsync_database)


def test_events_of_a_run_orphaned_by_a_crash_end_synced(crashable_stack: Stack) -> None:
    stack = crashable_stack
    assert stack.emulator is not None
    faults = f"{stack.emulator.base_url}/_emulator/faults"
    with psycopg.connect(stack.database_url, autocommit=True) as db:
        httpx.post(faults, json={"rate_limit": 1}).raise_for_status()  # runs crawl
        entity_ids = stack.emulator.tenant.create_registered(150)
        orphan = started_sync_run(stack, db, entity_ids)

        (dagster,) = [child for child in stack.children if child.name == "dagster"]
        os.killpg(dagster.process.pid, signal.SIGKILL)  # webserver, daemon, code server, run
        dagster.process.wait()
        stack.children.remove(dagster)
        httpx.post(faults, json={"rate_limit": stack.options.rate_limit}).raise_for_status()
        crashed_at = time.monotonic()
        stack.start_dagster()

        assert run_status(stack, orphan) == "STARTED"  # what the crash left
        progress = wait_until_synced(stack, entity_ids, timeout=300)
        print(f"all synced {time.monotonic() - crashed_at:.0f} s after the crash")
        assert (progress.synced, progress.dead) == (len(entity_ids), 0)
        assert run_status(stack, orphan) in ("CANCELED", "FAILURE")
        pending = db.execute(
            "SELECT count(*) FROM benchsync.inbox WHERE state = 'pending'"
        ).fetchone()
        assert pending == (0,)

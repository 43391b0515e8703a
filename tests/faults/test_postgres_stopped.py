"""PostgreSQL stopped for 15 s in the middle of a burst of 1,500 registrations, a sync run in
flight: the bridge answers 503 meanwhile (acknowledging nothing), the emulator redelivers, the
bridge and Dagster reconnect by themselves, and every entity ends mirrored.

The database that stops is the whole server: benchsync's database and Dagster's storage both
live on a cluster of this module's own (tests/support/cluster.py), as they would share one
server in a small deployment; the machine's shared server is never stopped.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from benchsync.demo.stack import Stack
from tests.support.cluster import Cluster, throwaway_cluster
from tests.support.consistency import assert_mirrored, wait_until_settled
from tests.support.tenant import entities_in_inbox

BURST = 1_500
OUTAGE_SECONDS = 15
# The database stops once this many of the burst's webhooks are recorded (50 arrive a second).
RECORDED_WHEN_STOPPED = BURST // 3
SYNC_RUNS_QUERY = """
query { runsOrError(filter: {pipelineName: "sync_job"}) { ... on Runs { results { status } } } }
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def postgres_server_url(cluster: Cluster) -> str:
    """The server tests/faults/conftest.py puts the stack's databases on: this module's own."""
    return cluster.url


def sync_runs_by_status(stack: Stack) -> Counter[str]:
    return Counter(
        run["status"] for run in stack.graphql(SYNC_RUNS_QUERY)["runsOrError"]["results"]
    )


def health_status(stack: Stack) -> int:
    return httpx.get(f"{stack.bridge_url}/health", timeout=10).status_code


def refusals(stack: Stack) -> Counter[tuple[int, str]]:
    """The bridge's answers other than 2xx, by status and outcome, from its request log."""
    answers = (
        json.loads(line)
        for line in stack.child("bridge").log_path.read_text(errors="replace").splitlines()
        if line.startswith('{"time"')
    )
    return Counter(
        (answer["status"], answer["outcome"]) for answer in answers if answer["status"] >= 300
    )


@pytest.mark.timeout(600)
def test_postgres_stopped_mid_burst_loses_nothing(stack: Stack, cluster: Cluster) -> None:
    assert stack.emulator is not None
    emulator = stack.emulator
    entity_ids = emulator.tenant.create_registered(BURST)
    # Mid-burst, and once the sensor has asked for a sync run: its run worker loses it too.
    while True:
        recorded_before = entities_in_inbox(stack.database_url, entity_ids)
        runs_before = sync_runs_by_status(stack)
        if recorded_before >= RECORDED_WHEN_STOPPED and runs_before:
            break
        time.sleep(0.2)
    failed_before = emulator.stats.count("webhook_attempts_failed")

    cluster.stop()
    stopped_at = time.monotonic()
    health_meanwhile: set[int] = set()
    while time.monotonic() - stopped_at < OUTAGE_SECONDS:
        health_meanwhile.add(health_status(stack))
        time.sleep(1)
    failed_meanwhile = emulator.stats.count("webhook_attempts_failed") - failed_before
    cluster.start()
    restarted_at = time.monotonic()
    print(
        f"\nPostgres stopped {OUTAGE_SECONDS} s, {recorded_before} of {BURST} events recorded"
        f", sync runs {dict(runs_before)}: /health answered {sorted(health_meanwhile)},"
        f" {failed_meanwhile} webhook deliveries were refused"
    )
    assert 0 < recorded_before < BURST  # the outage fell inside the burst
    assert health_meanwhile == {503}
    assert failed_meanwhile > 0

    while health_status(stack) != 200:
        assert time.monotonic() - restarted_at < 60, "the bridge never reconnected"
        time.sleep(0.2)
    print(f"the bridge answered /health 200 {time.monotonic() - restarted_at:.1f} s after")
    with psycopg.connect(stack.database_url, autocommit=True) as db:
        wait_until_settled(db, entity_ids, timeout=240)
        print(
            f"every event settled {time.monotonic() - restarted_at:.0f} s after the restart;"
            f" bridge refusals {dict(refusals(stack))}, webhooks abandoned"
            f" {emulator.stats.count('webhooks_abandoned')}"
        )
        assert set(refusals(stack)) == {(503, "database_unavailable")}
        stack.check_children()  # neither the bridge nor dagster dev died of the outage
        assert_mirrored(emulator, db, entity_ids, timeout=60)

"""A Benchling outage pauses the sync instead of spending attempts: recorded in
``benchsync.benchling_outage``, waited out by the step, seen by the sensors and the checks."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import dagster as dg
import psycopg
import pytest

from benchsync.status import read_status, render_table, status_document
from benchsync_dagster.batch_decisions import MAX_OUTAGE_RETRIES
from benchsync_dagster.batch_runs import (
    ATTEMPT_TAG,
    BATCH_TAG,
    OUTAGE_RETRIES_TAG,
    batch_run_config,
)
from benchsync_dagster.defs.sync.checks import benchling_answers
from benchsync_dagster.storage import benchling_outage
from tests.support.dagster import evaluate_inbox_sensor, run_batch
from tests.support.tenant import Tenant, inbox_states, pending_webhook_ids, register
from tests.sync.test_sensors import retry_after_failed_run


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def test_a_step_waits_out_an_outage_longer_than_its_ordinary_retries(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    """Down for 40 s: past the SDK's retries and the step's three ordinary ones (2, 4 and 8 s,
    each with up to as much again of jitter), which would have failed the run."""
    ids = register(tenant, 3)
    tenant.control("faults", {"fail_rate": 1.0, "fail_statuses": [503]})
    seen_down: list[benchling_outage.Outage | None] = []

    def recover() -> None:
        with psycopg.connect(tenant.database_url) as connection:
            seen_down.append(benchling_outage.current(connection))
        tenant.control("faults", {"fail_rate": 0.0})

    recovery = threading.Timer(40.0, recover)
    recovery.start()
    result = run_batch(tenant, pending_webhook_ids(tenant.database_url))
    recovery.join()

    assert result.success
    assert inbox_states(tenant.database_url) == {"synced": len(ids)}
    (outage,) = seen_down
    assert outage is not None and "503" in outage.last_error
    assert benchling_outage.current(db) is None  # the next answer ended it
    retries = [
        e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
    assert len(retries) > 3


def begin_outage(db: psycopg.Connection[Any]) -> None:
    benchling_outage.begin(db, "HTTP 503 from /api/v2/custom-entities:bulk-get")


def test_while_benchling_is_down_one_run_at_a_time_probes_it(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    register(tenant, 3)
    begin_outage(db)
    instance.add_run(
        dg.DagsterRun(
            job_name="sync_job", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED
        )
    )

    held = evaluate_inbox_sensor(instance, tenant, max_runs_in_flight=5)

    assert not held.run_requests
    assert held.skip_reason is not None
    assert "Benchling unavailable since" in (held.skip_reason.skip_message or "")
    benchling_outage.end(db)
    assert evaluate_inbox_sensor(instance, tenant, max_runs_in_flight=5).run_requests


def test_a_run_failed_during_an_outage_is_requested_again_without_spending_an_attempt(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    register(tenant, 3)
    webhook_ids = pending_webhook_ids(tenant.database_url)

    result = retry_after_failed_run(
        instance, tenant, webhook_ids, attempt=3, while_it_ran=lambda: begin_outage(db)
    )

    assert isinstance(result, dg.RunRequest)
    assert result.run_key is not None and result.run_key.startswith("inbox-1-3-attempt3-after-")
    assert result.tags[ATTEMPT_TAG] == "3" and result.tags[BATCH_TAG] == "inbox-1-3"
    assert result.tags[OUTAGE_RETRIES_TAG] == "1"
    assert result.run_config == batch_run_config(webhook_ids, None)
    assert inbox_states(tenant.database_url) == {"pending": 3}


@pytest.mark.parametrize(
    "when", ["outage ended before the run began", "batch spent its outage retries"]
)
def test_an_outage_that_did_not_meet_the_run_or_lasted_too_long_spends_the_attempt(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any], when: str
) -> None:
    register(tenant, 3)
    webhook_ids = pending_webhook_ids(tenant.database_url)
    spent = when == "batch spent its outage retries"
    if not spent:
        begin_outage(db)

    result = retry_after_failed_run(
        instance,
        tenant,
        webhook_ids,
        attempt=1,
        tags={OUTAGE_RETRIES_TAG: str(MAX_OUTAGE_RETRIES)} if spent else None,
        while_it_ran=lambda: begin_outage(db) if spent else None,
    )

    assert isinstance(result, dg.RunRequest)
    assert result.run_key == "inbox-1-3-attempt2"


def test_an_outage_shows_in_status_and_fails_its_check(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    begin_outage(db)

    status = read_status(db)
    document = status_document(status)
    with dg.build_resources(tenant.resources()) as resources:
        check = benchling_answers(resources.postgres)
    assert isinstance(check, dg.AssetCheckResult)

    assert document["benchling"]["answering"] is False
    assert "503" in document["benchling"]["last_error"]
    assert "unavailable since" in render_table(status)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    benchling_outage.end(db)
    assert status_document(read_status(db))["benchling"] == {"answering": True}

"""The inbox sensor over a real inbox, and the retry of failed batches."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import dagster as dg
import psycopg
import pytest

from benchsync_dagster.batch_runs import (
    ATTEMPT_TAG,
    BATCH_TAG,
    batch_run_config,
    batch_webhook_ids,
)
from benchsync_dagster.defs.sync import inbox_sensor as inbox_sensor_module
from benchsync_dagster.defs.sync.retries import retry_failed_batches
from tests.support.dagster import evaluate_inbox_sensor, execute_request, requests_for
from tests.support.tenant import Tenant, inbox_states, pending_webhook_ids, register
from tests.support.webhooks import envelope
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.events import parse_webhook


@pytest.fixture(autouse=True)
def quiet_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Treat every event as past its burst, so batch sizes do not depend on test timing."""
    monkeypatch.setattr(inbox_sensor_module, "BURST_QUIET_AFTER", timedelta(0))


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def test_a_filled_inbox_becomes_batches_with_keys_and_a_cursor(
    tenant: Tenant, instance: dg.DagsterInstance
) -> None:
    register(tenant, 250)
    recorded = pending_webhook_ids(tenant.database_url)

    result = evaluate_inbox_sensor(instance, tenant, max_batch_size=100, max_runs_in_flight=5)

    assert isinstance(result, dg.SensorResult)
    batches = [batch_webhook_ids(request.run_config) for request in result.run_requests or []]
    assert [len(batch) for batch in batches] == [100, 100, 50]
    assert sorted(webhook_id for batch in batches for webhook_id in batch) == sorted(recorded)
    keys = [request.run_key for request in result.run_requests or []]
    assert len(set(keys)) == 3
    assert all(key and key.startswith("inbox-") for key in keys)
    # A run names its batch (its run key), and never the App configuration: a rerun uses
    # the one stored when it runs.
    for request in result.run_requests or []:
        config = request.run_config["ops"]["synced_benchling_data"]["config"]
        assert config == {
            "webhook_ids": batch_webhook_ids(request.run_config),
            "batch": request.run_key,
        }

    again = evaluate_inbox_sensor(instance, tenant, cursor=result.cursor)
    assert skipped(again) == "no new events"


def test_no_new_runs_while_enough_are_in_flight(
    tenant: Tenant, instance: dg.DagsterInstance
) -> None:
    register(tenant, 3)
    for _ in range(2):
        instance.add_run(
            dg.DagsterRun(
                job_name="sync_job", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED
            )
        )

    result = evaluate_inbox_sensor(instance, tenant)

    assert not result.run_requests
    assert "in flight" in skipped(result)


def skipped(result: dg.SensorResult) -> str:
    return result.skip_reason.skip_message or "" if result.skip_reason else ""


def _record(connection: psycopg.Connection[Any], envelope: bytes, webhook_id: str) -> None:
    inbox.record(connection, parse_webhook(webhook_id, envelope))


def test_a_late_commit_below_the_cursor_is_not_skipped(
    tenant: Tenant, instance: dg.DagsterInstance
) -> None:
    """Two writers commit out of order: the sensor waits for the first, then reads both."""
    url = tenant.database_url
    with psycopg.connect(url) as first, psycopg.connect(url) as second:
        _record(first, envelope(), "msg_first")  # takes the lower seq, commits last
        _record(second, envelope(), "msg_second")
        second.commit()

        held = evaluate_inbox_sensor(instance, tenant)
        assert "1 recorded events wait for a transaction" in skipped(held)

        first.commit()

    result = evaluate_inbox_sensor(instance, tenant)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests or []
    assert sorted(batch_webhook_ids(request.run_config)) == ["msg_first", "msg_second"]


def test_ignored_events_start_no_run_and_move_the_cursor(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    _record(db, envelope("v2.app.installed", channel="app_signals"), "msg_signal")

    result = evaluate_inbox_sensor(instance, tenant)

    assert isinstance(result, dg.SensorResult)
    assert not result.run_requests
    assert skipped(evaluate_inbox_sensor(instance, tenant, cursor=result.cursor)) == "no new events"


def test_a_configuration_update_is_settled_by_a_run_that_reads_the_configuration(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    _record(db, envelope("v2-beta.app.configuration.updated"), "msg_config")

    result = evaluate_inbox_sensor(instance, tenant)

    (request,) = result.run_requests or []
    assert request.job_name == "app_configuration_job"
    assert inbox_states(tenant.database_url) == {"pending": 1}  # the tick wrote nothing
    assert execute_request(tenant, request, instance).success
    assert inbox_states(tenant.database_url) == {"synced": 1}


def test_an_entity_event_without_a_resource_is_dead_lettered_by_its_run(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    _record(db, envelope(resourceId=None), "msg_no_entity")

    result = evaluate_inbox_sensor(instance, tenant)

    (request,) = requests_for(result, "sync_job")
    assert inbox_states(tenant.database_url) == {"pending": 1}
    assert execute_request(tenant, request, instance).success
    assert inbox_states(tenant.database_url) == {"dead": 1}


def retry_after_failed_run(
    instance: dg.DagsterInstance,
    tenant: Tenant,
    webhook_ids: list[str],
    attempt: int,
    tags: dict[str, str] | None = None,
    while_it_ran: Callable[[], object] = lambda: None,
) -> dg.RunRequest | dg.SensorResult | None:
    """Run a sync of ``webhook_ids`` that fails (Benchling's URL is not one), ``while_it_ran``
    standing for what happened meanwhile, then let the retry sensor see the failure."""
    broken = tenant.benchling_resource(tenant_url="my-tenant.benchling.com")
    job = tenant.definitions(benchling=broken).resolve_job_def("sync_job")
    result = job.execute_in_process(
        run_config=batch_run_config(webhook_ids, None),
        instance=instance,
        tags={BATCH_TAG: "inbox-1-3", ATTEMPT_TAG: str(attempt), **(tags or {})},
        raise_on_error=False,
    )
    assert not result.success
    while_it_ran()
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    with dg.build_run_status_sensor_context(
        sensor_name="retry_failed_batches",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources=tenant.resources(),
    ) as context:
        outcome = retry_failed_batches(context.for_run_failure())
    assert outcome is None or isinstance(outcome, dg.RunRequest | dg.SensorResult)
    return outcome


@pytest.fixture
def unsyncable_batch(tenant: Tenant) -> list[str]:
    """Three recorded events (whose sync run ``retry_after_failed_run`` makes fail)."""
    register(tenant, 3)
    return pending_webhook_ids(tenant.database_url)


def test_a_failed_batch_is_requested_again_under_a_new_key(
    tenant: Tenant, instance: dg.DagsterInstance, unsyncable_batch: list[str]
) -> None:
    webhook_ids = unsyncable_batch

    result = retry_after_failed_run(instance, tenant, webhook_ids, attempt=1)

    assert isinstance(result, dg.RunRequest)
    assert result.run_key == "inbox-1-3-attempt2"
    assert result.tags[ATTEMPT_TAG] == "2"
    assert batch_webhook_ids(result.run_config) == webhook_ids
    assert inbox_states(tenant.database_url) == {"pending": 3}


def test_after_its_last_attempt_a_batch_is_split_in_halves_under_new_keys(
    tenant: Tenant, instance: dg.DagsterInstance, unsyncable_batch: list[str]
) -> None:
    result = retry_after_failed_run(instance, tenant, unsyncable_batch, attempt=3)

    assert isinstance(result, dg.SensorResult)
    halves = result.run_requests or []
    assert [request.run_key for request in halves] == ["inbox-1-3/1", "inbox-1-3/2"]
    assert [batch_webhook_ids(request.run_config) for request in halves] == [
        unsyncable_batch[:1],
        unsyncable_batch[1:],
    ]
    # A half that fails again is halved again at once: its tries are spent.
    assert {request.tags[ATTEMPT_TAG] for request in halves} == {"3"}
    assert inbox_states(tenant.database_url) == {"pending": 3}


def test_one_event_failing_on_its_own_is_dead_lettered_with_its_error(
    tenant: Tenant, instance: dg.DagsterInstance, unsyncable_batch: list[str]
) -> None:
    result = retry_after_failed_run(instance, tenant, unsyncable_batch[:1], attempt=3)

    assert result is None
    assert inbox_states(tenant.database_url) == {"dead": 1, "pending": 2}
    with psycopg.connect(tenant.database_url) as connection:
        (reason,) = connection.execute(
            "SELECT reason FROM benchsync.inbox WHERE state = 'dead'"
        ).fetchone() or ("",)
    assert "sync failed 3 times" in reason and "BENCHLING_TENANT_URL" in reason


@pytest.fixture
def read_long_ago(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> tuple[str, dg.RunRequest]:
    """Three events the sensor read and requested a run for, 20 minutes ago: its cursor, and
    the request (which no run was made from)."""
    register(tenant, 3)
    first = evaluate_inbox_sensor(instance, tenant)
    assert isinstance(first, dg.SensorResult) and first.cursor
    (request,) = first.run_requests or []
    db.execute("UPDATE benchsync.inbox SET received_at = now() - interval '20 minutes'")
    return first.cursor, request


def test_events_stranded_behind_the_cursor_are_requeued_and_requested_again(
    tenant: Tenant, instance: dg.DagsterInstance, read_long_ago: tuple[str, dg.RunRequest]
) -> None:
    cursor, lost = read_long_ago

    sweep = evaluate_inbox_sensor(instance, tenant, cursor=cursor)
    (requeue,) = requests_for(sweep, "requeue_job")
    assert inbox_states(tenant.database_url) == {"pending": 3}
    assert execute_request(tenant, requeue, instance).success
    again = evaluate_inbox_sensor(instance, tenant, cursor=sweep.cursor)

    (request,) = requests_for(again, "sync_job")
    assert sorted(batch_webhook_ids(request.run_config)) == sorted(
        batch_webhook_ids(lost.run_config)
    )
    assert request.run_key != lost.run_key


def test_events_of_a_run_in_flight_are_not_stranded(
    tenant: Tenant, instance: dg.DagsterInstance, read_long_ago: tuple[str, dg.RunRequest]
) -> None:
    cursor, request = read_long_ago
    instance.add_run(
        dg.DagsterRun(
            job_name="sync_job",
            run_id=str(uuid.uuid4()),
            run_config=request.run_config,
            status=dg.DagsterRunStatus.STARTED,
        )
    )

    again = evaluate_inbox_sensor(instance, tenant, cursor=cursor)

    assert not again.run_requests
    assert inbox_states(tenant.database_url) == {"pending": 3}


def test_a_cursor_from_another_server_is_noticed_and_the_inbox_read_from_its_start(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    register(tenant, 3)
    # What a restored database holds: pending rows, and a cursor, with the old server's ids,
    # above any this server has reached.
    db.execute("UPDATE benchsync.inbox SET txid = '99999999990'")
    from_the_old_server = "99999999999:7"

    noticed = evaluate_inbox_sensor(instance, tenant, cursor=from_the_old_server)

    assert noticed.cursor == "0:0"
    (requeue,) = requests_for(noticed, "requeue_job")
    assert execute_request(tenant, requeue, instance).success
    result = evaluate_inbox_sensor(instance, tenant, cursor=noticed.cursor)
    (request,) = requests_for(result, "sync_job")
    assert len(batch_webhook_ids(request.run_config)) == 3


def test_pending_rows_from_another_server_are_requeued_whatever_the_cursor(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    """The cursor was reset already (a requeue that did not take): the rows still ahead of this
    server's ids are noticed on their own, and their requeue asked for again."""
    register(tenant, 3)
    db.execute("UPDATE benchsync.inbox SET txid = '99999999990'")

    noticed = evaluate_inbox_sensor(instance, tenant, cursor="0:0")

    (requeue,) = requests_for(noticed, "requeue_job")
    assert execute_request(tenant, requeue, instance).success
    result = evaluate_inbox_sensor(instance, tenant, cursor=noticed.cursor)
    (request,) = requests_for(result, "sync_job")
    assert len(batch_webhook_ids(request.run_config)) == 3


def inbox_rows(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute("SELECT * FROM benchsync.inbox ORDER BY webhook_id").fetchall()


def test_a_tick_writes_nothing(
    tenant: Tenant,
    instance: dg.DagsterInstance,
    db: psycopg.Connection[Any],
    read_long_ago: tuple[str, dg.RunRequest],
) -> None:
    """What "Preview tick" in the UI evaluates: stranded events, a configuration update and an
    event naming no entity, each of which used to be written in the tick itself."""
    cursor, _ = read_long_ago
    _record(db, envelope("v2-beta.app.configuration.updated"), "msg_config")
    _record(db, envelope(resourceId=None), "msg_no_entity")
    before = inbox_rows(db)

    result = evaluate_inbox_sensor(instance, tenant, cursor=cursor)
    restart = evaluate_inbox_sensor(instance, tenant, cursor="99999999999:7")

    assert {request.job_name for request in result.run_requests or []} == {
        "requeue_job",
        "app_configuration_job",
        "sync_job",
    }
    assert requests_for(restart, "requeue_job")
    assert inbox_rows(db) == before

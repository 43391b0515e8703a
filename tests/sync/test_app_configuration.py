"""The App configuration: stored in Postgres, read again when Benchling says it changed (or
once it is old), and the seed's rows rebuilt from the snapshots when it names another field."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import dagster as dg
import psycopg
import pytest

from benchsync_dagster import mapping
from benchsync_dagster.batch_runs import batch_webhook_ids
from benchsync_dagster.defs.resources import SyncSettings
from tests.support.dagster import evaluate_inbox_sensor, execute_request, requests_for
from tests.support.tenant import Tenant, inbox_states, register
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.inbox.event_types import APP_CONFIGURATION_UPDATED


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def field_values(db: psycopg.Connection[Any]) -> dict[str, str | None]:
    return dict(db.execute("SELECT benchling_api_id, field_value FROM synced_benchling_data"))


def values_in_benchling(tenant: Tenant, entity_ids: list[str], field: str) -> dict[str, Any]:
    entities = {i: tenant.emulator.tenant.get_entity(i) for i in entity_ids}
    return {i: mapping.field_text(entity, field) for i, entity in entities.items()}


def synced_batch(tenant: Tenant, instance: dg.DagsterInstance, count: int) -> dg.RunRequest:
    """``count`` entities registered and synced by the run the sensor requested: that request."""
    register(tenant, count)
    (request,) = requests_for(evaluate_inbox_sensor(instance, tenant), "sync_job")
    assert execute_request(tenant, request, instance).success
    return request


def link_synced_field(tenant: Tenant, field: str) -> None:
    """Change "Synced Field Data" in Benchling, and wait for its webhook in the inbox."""
    tenant.control("app-configuration", {"synced_field": field})
    deadline = time.monotonic() + 30
    while inbox_states(tenant.database_url).get("pending", 0) < 1:
        assert time.monotonic() < deadline, "no configuration webhook recorded"
        time.sleep(0.05)


def lose_the_configuration_webhook(db: psycopg.Connection[Any]) -> None:
    deadline = time.monotonic() + 30
    while not db.execute(
        "DELETE FROM benchsync.inbox WHERE message_type = %s RETURNING 1",
        [APP_CONFIGURATION_UPDATED],
    ).fetchall():
        assert time.monotonic() < deadline, "no configuration webhook recorded"
        time.sleep(0.05)


def entity_fetches(tenant: Tenant) -> int:
    requests = tenant.control_get("stats")["requests"]
    return sum(count for route, count in requests.items() if "custom-entities" in route)


def test_a_changed_field_rebuilds_the_rows_from_the_snapshots_without_fetching(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    batch = synced_batch(tenant, instance, 3)
    ids = list(field_values(db))
    assert field_values(db) == values_in_benchling(tenant, ids, "Description")
    fetches = entity_fetches(tenant)

    link_synced_field(tenant, "Notes")
    after_tick = evaluate_inbox_sensor(instance, tenant, cursor=None)
    (read_again,) = requests_for(after_tick, "app_configuration_job")
    result = execute_request(tenant, read_again, instance)

    assert result.success
    assert field_values(db) == values_in_benchling(tenant, ids, "Notes")
    assert entity_fetches(tenant) == fetches  # rebuilt from the stored snapshots
    assert inbox_states(tenant.database_url) == {"synced": 4}
    materialized = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("benchling_app_configuration")
    }
    assert materialized["benchling_app_configuration"]["synced_field"].value == "Notes"
    assert materialized["synced_benchling_data"]["rebuilt_rows"].value == 3

    # A re-execution of the old batch (or a retry) uses the stored configuration, not one
    # frozen in its run config: the rows keep the new field.
    assert execute_request(tenant, batch, instance).success
    assert field_values(db) == values_in_benchling(tenant, ids, "Notes")


def test_a_sync_run_reads_the_configuration_again_once_it_is_old(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    """The webhook that says the configuration changed was lost: the next sync run after the
    refresh period reads it anyway, and rebuilds."""
    batch = synced_batch(tenant, instance, 2)
    ids = list(field_values(db))
    tenant.control("app-configuration", {"synced_field": "Notes"})
    time.sleep(1.1)

    quick = SyncSettings(config_refresh_seconds=1)
    assert execute_request(tenant, batch, instance, sync_settings=quick).success

    assert field_values(db) == values_in_benchling(tenant, ids, "Notes")


def test_a_run_settles_only_the_events_still_where_it_read_them(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    """An event replayed after the sensor read it belongs to the later batch that reads it
    again: the first batch's run must not mark it synced (its entity may have had no row)."""
    register(tenant, 2)
    (request,) = requests_for(evaluate_inbox_sensor(instance, tenant), "sync_job")
    kept, replayed = batch_webhook_ids(request.run_config)
    inbox.requeue(db, inbox.Replay(webhook_ids=[replayed]))

    assert execute_request(tenant, request, instance).success

    states = dict(db.execute("SELECT webhook_id, state FROM benchsync.inbox"))
    assert states == {kept: "synced", replayed: "pending"}


def test_a_change_a_sync_run_read_is_rebuilt_by_a_run_the_sensor_requests(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    """The webhook was lost; a sync run read the change: the sensor sees the stored
    configuration differ from the one the rows follow, and requests the rebuild."""
    batch = synced_batch(tenant, instance, 2)
    register(tenant, 1)  # a later entity, not in the batch
    later = evaluate_inbox_sensor(instance, tenant, cursor=None)
    (second,) = [r for r in requests_for(later, "sync_job") if r.run_key != batch.run_key]
    tenant.control("app-configuration", {"synced_field": "Notes"})
    lose_the_configuration_webhook(db)
    time.sleep(1.1)
    quick = SyncSettings(config_refresh_seconds=1)
    assert execute_request(tenant, second, instance, sync_settings=quick).success
    ids = list(field_values(db))

    tick = evaluate_inbox_sensor(instance, tenant, cursor=later.cursor)
    (rebuild,) = requests_for(tick, "app_configuration_job")
    assert execute_request(tenant, rebuild, instance).success

    assert field_values(db) == values_in_benchling(tenant, ids, "Notes")
    again = evaluate_inbox_sensor(instance, tenant, cursor=tick.cursor)
    assert not requests_for(again, "app_configuration_job")  # rebuilt: nothing more to do

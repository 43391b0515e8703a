"""The sync job executed in process against the emulator and a real Postgres."""

from __future__ import annotations

import threading
import time
from typing import Any

import dagster as dg
import psycopg
import pytest

from tests.support.dagster import materialization_of, run_batch, sync_target
from tests.support.tenant import Tenant, inbox_states, pending_webhook_ids, register


def metadata_number(result: dg.ExecuteInProcessResult, asset: str, key: str) -> float:
    value = materialization_of(result, asset).metadata[key].value
    assert isinstance(value, int | float)
    return value


def synced_rows(db: psycopg.Connection[Any]) -> dict[str, tuple[Any, ...]]:
    rows = db.execute(
        "SELECT benchling_api_id, entity_name, field_value, source_event FROM synced_benchling_data"
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_a_batch_becomes_exactly_its_rows(tenant: Tenant, db: psycopg.Connection[Any]) -> None:
    ids = register(tenant, 5)
    webhook_ids = pending_webhook_ids(tenant.database_url)
    target = sync_target(tenant)

    result = run_batch(tenant, webhook_ids)

    assert result.success
    rows = synced_rows(db)
    assert set(rows) == set(ids)
    for entity_id in ids:
        entity = tenant.emulator.tenant.get_entity(entity_id)
        name, value, source = rows[entity_id]
        assert name == entity["name"]
        assert value == entity["fields"][target.field_name]["value"]
        assert source in webhook_ids
    assert inbox_states(tenant.database_url) == {"synced": 5}
    (check,) = [
        c for c in result.get_asset_check_evaluations() if c.check_name == "one_row_per_entity"
    ]
    assert check.passed
    assert check.metadata["snapshots_without_row"].value == 0


def test_re_execution_writes_nothing_new(tenant: Tenant, db: psycopg.Connection[Any]) -> None:
    register(tenant, 3)
    webhook_ids = pending_webhook_ids(tenant.database_url)
    first = run_batch(tenant, webhook_ids)
    before = synced_rows(db)

    again = run_batch(tenant, webhook_ids)

    assert first.success and again.success
    assert synced_rows(db) == before
    assert metadata_number(again, "synced_benchling_data", "rows_written") == 0


@pytest.mark.parametrize("bulk_get_missing", ["omit", "error"])
def test_a_deleted_entity_is_dead_lettered_with_the_reason(
    make_tenant: Any, db: psycopg.Connection[Any], bulk_get_missing: str
) -> None:
    tenant: Tenant = make_tenant(bulk_get_missing=bulk_get_missing)
    ids = register(tenant, 3)
    tenant.control("delete", {"ids": [ids[0]]})

    result = run_batch(tenant, pending_webhook_ids(tenant.database_url))

    assert result.success
    assert set(synced_rows(db)) == set(ids[1:])
    dead = db.execute(
        "SELECT resource_id, reason FROM benchsync.inbox WHERE state = 'dead'"
    ).fetchall()
    assert [resource_id for resource_id, _ in dead] == [ids[0]]
    assert "404" in dead[0][1]


def test_a_binding_rate_limit_is_kept_without_a_single_429(
    make_tenant: Any, db: psycopg.Connection[Any]
) -> None:
    # Two requests per two seconds: the pacer reads x-rate-limit-remaining and waits.
    tenant: Tenant = make_tenant(rate_limit=2, rate_window_seconds=2.0)
    ids = register(tenant, 400)

    result = run_batch(tenant, pending_webhook_ids(tenant.database_url))

    assert result.success
    assert set(synced_rows(db)) == set(ids)
    assert metadata_number(result, "benchling_entity_snapshots", "benchling_wait_seconds") > 0
    assert tenant.control_get("stats")["responses_429"] == 0


def test_a_storm_of_429s_and_503s_is_ridden_out_and_shows_in_the_run(
    make_tenant: Any, db: psycopg.Connection[Any]
) -> None:
    tenant: Tenant = make_tenant()
    ids = register(tenant, 300)
    tenant.control("faults", {"fail_rate": 0.3})
    instance = dg.DagsterInstance.ephemeral()

    result = run_batch(tenant, pending_webhook_ids(tenant.database_url), instance)

    assert result.success
    assert set(synced_rows(db)) == set(ids)
    assert metadata_number(result, "benchling_entity_snapshots", "benchling_throttled") > 0
    logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("Benchling answered 429" in message for message in logged)


def test_an_outage_longer_than_the_sdk_retries_is_retried_by_the_step(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    ids = register(tenant, 3)
    tenant.control("faults", {"fail_rate": 1.0, "fail_statuses": [503]})

    def recover_once_the_sdk_gave_up() -> None:
        # Three 503s are the SDK's three tries of the first call: only the step's retry (after
        # ~2 s) is left to sync, however slowly the run started on a loaded machine.
        while tenant.control_get("stats")["responses_503"] < 3:
            time.sleep(0.05)
        tenant.control("faults", {"fail_rate": 0.0})

    recovery = threading.Thread(target=recover_once_the_sdk_gave_up)
    recovery.start()

    result = run_batch(tenant, pending_webhook_ids(tenant.database_url))

    recovery.join()
    assert result.success
    assert set(synced_rows(db)) == set(ids)
    event_types = [event.event_type for event in result.all_events]
    assert dg.DagsterEventType.STEP_UP_FOR_RETRY in event_types


def test_no_secret_reaches_the_run_log_or_its_metadata(tenant: Tenant) -> None:
    register(tenant, 2)
    instance = dg.DagsterInstance.ephemeral()

    result = run_batch(tenant, pending_webhook_ids(tenant.database_url), instance)

    assert result.success
    everything_recorded = "\n".join(repr(entry) for entry in instance.all_logs(result.run_id))
    assert "materialization" in everything_recorded.lower()
    assert tenant.emulator.settings.client_secret not in everything_recorded


def test_one_entity_benchling_refuses_is_dead_lettered_alone_with_its_answer(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    ids = register(tenant, 5)
    tenant.control("faults", {"entity_statuses": {ids[2]: 400}})

    result = run_batch(tenant, pending_webhook_ids(tenant.database_url))

    assert result.success
    assert set(synced_rows(db)) == set(ids) - {ids[2]}
    dead = db.execute(
        "SELECT resource_id, reason FROM benchsync.inbox WHERE state = 'dead'"
    ).fetchall()
    assert [resource_id for resource_id, _ in dead] == [ids[2]]
    assert f"Benchling answered 400 for {ids[2]}" in dead[0][1]


def test_concurrent_processes_share_one_budget_and_never_exceed_the_limit(
    make_tenant: Any,
) -> None:
    # Benchling's limit: 4 requests in any 3 s. Two clients with their own transports, as two
    # run processes have, each sending 8 requests as fast as their budget lets them.
    tenant: Tenant = make_tenant(rate_limit=4, rate_window_seconds=3.0)
    ids = register(tenant, 2)
    resource = tenant.benchling_resource(rate_limit=4, rate_window_seconds=3.0)

    def spend() -> None:
        with dg.build_resources({"benchling": resource}) as built:
            for number in range(8):
                built.benchling.client.custom_entities.get_by_id(ids[number % 2])

    spenders = [threading.Thread(target=spend) for _ in range(2)]
    for spender in spenders:
        spender.start()
    for spender in spenders:
        spender.join()

    stats = tenant.control_get("stats")
    assert stats["responses_429"] == 0  # the emulator, Benchling's stand-in, refused nothing
    assert stats["requests"]["GET /api/v2/custom-entities/<entity_id>"] == 16

"""The sync job executed in process against the emulator and a real Postgres."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg
import pytest

from benchsync_dagster import defs
from benchsync_dagster.benchling_api import (
    PacedTransport,
    SyncTarget,
    build_client,
    read_sync_target,
)
from benchsync_dagster.orchestration.sync.sensors import batch_run_config
from benchsync_dagster.settings import BenchlingSettings
from tests.sync.conftest import Tenant, inbox_states, pending_webhook_ids, register


def sync_target(tenant: Tenant) -> SyncTarget:
    """The App configuration, read as the sensor reads it."""
    settings = BenchlingSettings.from_env()
    client = build_client(settings, PacedTransport(settings.rate_limit))
    return read_sync_target(client, tenant.emulator.settings.app_id)


def run_batch(
    webhook_ids: list[str], target: SyncTarget, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("sync_job")
    result: dg.ExecuteInProcessResult = job.execute_in_process(
        run_config=batch_run_config(webhook_ids, target),
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return result


def synced_rows(db: psycopg.Connection[Any]) -> dict[str, tuple[Any, ...]]:
    rows = db.execute(
        "SELECT benchling_api_id, entity_name, field_value, source_event FROM synced_benchling_data"
    ).fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def test_a_batch_becomes_exactly_its_rows(tenant: Tenant, db: psycopg.Connection[Any]) -> None:
    ids = register(tenant, 5)
    webhook_ids = pending_webhook_ids(tenant.database_url)
    target = sync_target(tenant)

    result = run_batch(webhook_ids, target)

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


def test_re_execution_writes_nothing_new(tenant: Tenant, db: psycopg.Connection[Any]) -> None:
    register(tenant, 3)
    webhook_ids = pending_webhook_ids(tenant.database_url)
    target = sync_target(tenant)
    first = run_batch(webhook_ids, target)
    before = synced_rows(db)

    again = run_batch(webhook_ids, target)

    assert first.success and again.success
    assert synced_rows(db) == before
    materialization = again.asset_materializations_for_node("synced_benchling_data")[0]
    assert materialization.metadata["rows_written"].value == 0


@pytest.mark.parametrize("bulk_get_missing", ["omit", "error"])
def test_a_deleted_entity_is_dead_lettered_with_the_reason(
    make_tenant: Any, db: psycopg.Connection[Any], bulk_get_missing: str
) -> None:
    tenant: Tenant = make_tenant(bulk_get_missing=bulk_get_missing)
    ids = register(tenant, 3)
    tenant.control("delete", {"ids": [ids[0]]})

    result = run_batch(pending_webhook_ids(tenant.database_url), sync_target(tenant))

    assert result.success
    assert set(synced_rows(db)) == set(ids[1:])
    dead = db.execute(
        "SELECT resource_id, reason FROM benchsync.inbox WHERE state = 'dead'"
    ).fetchall()
    assert [resource_id for resource_id, _ in dead] == [ids[0]]
    assert "404" in dead[0][1]

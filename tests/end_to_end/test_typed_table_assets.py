"""A schema that appears in Benchling appears in the running Dagster UI as an asset, without a
code change or a restart: its typed table is made by the sync, and ``typed_tables_sensor``
(ticked by the daemon) reloads the code location through the webserver. The code server reads
the catalog when it loads; a run worker takes the catalog the run was planned with from Dagster
and never queries it."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from benchsync.demo.progress import wait_until_synced
from benchsync.demo.stack import Stack
from benchsync_dagster.typed.naming import dagster_name, normalised
from tests.support.dagster_api import launch_run, wait_for_run_end

ASSET_QUERY = """
query Asset($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    ... on Asset { definition { groupName metadataEntries { label } } }
    ... on AssetNotFoundError { message }
  }
}
"""

LOCATION_QUERY = """
query Location {
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { repositories { sensors { name } } }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


def wait_for_asset(stack: Stack, path: list[str]) -> dict[str, Any]:
    """The asset's definition, once the reloaded code location shows it."""
    key = {"path": path}
    deadline = time.monotonic() + 90
    while True:
        found = stack.graphql(ASSET_QUERY, {"key": key})["assetOrError"]
        definition = found.get("definition")
        if definition is not None:
            return definition  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"no asset {key} in the UI: {found}"
        time.sleep(2)


def test_a_new_schema_appears_as_an_asset_in_the_running_ui(stack: Stack) -> None:
    assert stack.emulator is not None
    tenant = stack.emulator.tenant
    tenant.define_schema(
        "ts_e2eFresh",
        {
            "name": "E2E Fresh Schema",
            "fields": [
                {"id": "tsf_e2e_label", "name": "Label", "type": "text"},
                {"id": "tsf_e2e_count", "name": "Count", "type": "integer"},
            ],
        },
    )
    entity_ids = tenant.create_registered_of_schema(3, "ts_e2eFresh")
    wait_until_synced(stack, entity_ids, timeout=120)

    definition = wait_for_asset(stack, ["benchling", "e2e_fresh_schema"])
    assert definition["groupName"] == "benchling_typed_tables"
    labels = {entry["label"] for entry in definition["metadataEntries"]}
    assert {"dagster/table_name", "dagster/column_schema"} <= labels


def test_a_schema_named_in_another_script_keeps_the_code_location_loaded(stack: Stack) -> None:
    """Dagster refuses names outside [A-Za-z0-9_]: such a name in an asset key stopped the
    location from loading, and with it every sensor, schedule and job."""
    assert stack.emulator is not None
    tenant = stack.emulator.tenant
    name = "Échantillon 🧪 样品"
    tenant.define_schema(
        "ts_e2eUnicode",
        {
            "name": name,
            "prefix": "UNI",
            "fields": [{"id": "tsf_e2e_size", "name": "Größe", "type": "text"}],
        },
    )
    entity_ids = tenant.create_registered_of_schema(2, "ts_e2eUnicode")
    wait_until_synced(stack, entity_ids, timeout=120)

    asset = dagster_name(normalised(name, "schema"), "ts_e2eUnicode")
    definition = wait_for_asset(stack, ["benchling", asset])
    assert definition["groupName"] == "benchling_typed_tables"
    (entry,) = stack.graphql(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
    location = entry["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    sensors = {s["name"] for r in location["repositories"] for s in r["sensors"]}
    assert {"inbox_sensor", "typed_tables_sensor", "poll_sensor"} <= sensors


def test_a_run_worker_does_not_query_the_catalog(stack: Stack, stack_database_url: str) -> None:
    """With the catalog locked against every read, a run starts, loads the code location and
    ends: its run worker built the typed tables' assets from the copy Dagster handed it (one
    that queried the catalog would wait on the lock, and the run would not end)."""
    with psycopg.connect(stack_database_url) as locker:
        locker.execute("LOCK TABLE benchsync.typed_tables IN ACCESS EXCLUSIVE MODE")
        run_id = launch_run(stack, "inbox_retention_job", {}, {})
        status, _ = wait_for_run_end(stack, run_id, timeout=180)
        locker.rollback()
    assert status == "SUCCESS"

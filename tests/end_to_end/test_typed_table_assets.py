"""A schema that appears in Benchling appears in the running Dagster UI as an asset, without a
code change or a restart: its typed table is made by the sync, and ``typed_tables_sensor``
(ticked by the daemon) reloads the code location through the webserver."""

from __future__ import annotations

import time

from benchsync.demo.progress import wait_until_synced
from benchsync.demo.stack import Stack

ASSET_QUERY = """
query Asset($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    ... on Asset { definition { groupName metadataEntries { label } } }
    ... on AssetNotFoundError { message }
  }
}
"""


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

    key = {"path": ["benchling", "e2e_fresh_schema"]}
    deadline = time.monotonic() + 90
    while True:
        found = stack.graphql(ASSET_QUERY, {"key": key})["assetOrError"]
        definition = found.get("definition")
        if definition is not None:
            break
        assert time.monotonic() < deadline, f"no asset {key} in the UI: {found}"
        time.sleep(2)
    assert definition["groupName"] == "benchling_typed_tables"
    labels = {entry["label"] for entry in definition["metadataEntries"]}
    assert {"dagster/table_name", "dagster/column_schema"} <= labels

"""The sync job: fetch a batch's entities and write both tables, in one process."""

from __future__ import annotations

import dagster as dg

from benchsync_dagster.defs.sync.assets import (
    benchling_entity_snapshots,
    synced_benchling_data,
)

# Two steps are cheaper in one process than one process each (a step costs ~1.2 s of its own
# under the multiprocess executor; docs/architecture.md).
sync_job = dg.define_asset_job(
    "sync_job",
    selection=dg.AssetSelection.assets(benchling_entity_snapshots, synced_benchling_data),
    executor_def=dg.in_process_executor,
    description="Sync one batch of recorded webhook events (requested by inbox_sensor).",
)

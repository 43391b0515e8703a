"""The sync job: fetch a batch's entities and write both tables, in one process."""

from __future__ import annotations

import dagster as dg

from benchsync_dagster.defs.sync.assets import (
    benchling_entity_snapshots,
    synced_benchling_data,
)

SYNC_RUN_TIMEOUT_SECONDS = 600

# Two steps are cheaper in one process than one process each (a step costs ~1.2 s of its own
# under the multiprocess executor; docs/architecture.md).
sync_job = dg.define_asset_job(
    "sync_job",
    selection=dg.AssetSelection.assets(benchling_entity_snapshots, synced_benchling_data),
    executor_def=dg.in_process_executor,
    description="Sync one batch of recorded webhook events (requested by inbox_sensor).",
    # Run monitoring (dagster.yaml) cancels a run still going after this: a batch of 1,000
    # takes seconds, or minutes under a tight rate limit; a run orphaned by a crash, forever.
    tags={"dagster/max_runtime": str(SYNC_RUN_TIMEOUT_SECONDS)},
)

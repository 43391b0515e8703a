"""The sync job: fetch a batch's entities and write both tables, in one process."""

from __future__ import annotations

import dagster as dg

from benchsync_dagster.defs.resources import SYNC_RUN_TIMEOUT_SECONDS
from benchsync_dagster.defs.sync.assets import (
    benchling_entity_snapshots,
    synced_benchling_data,
)

# Dagster's run monitoring reads a run's time limit from this tag.
MAX_RUNTIME_TAG = "dagster/max_runtime"

# Two steps are cheaper in one process than one process each (a step costs ~1.2 s of its own
# under the multiprocess executor; docs/architecture.md).
sync_job = dg.define_asset_job(
    "sync_job",
    selection=dg.AssetSelection.assets(benchling_entity_snapshots, synced_benchling_data),
    executor_def=dg.in_process_executor,
    description="Sync one batch of recorded webhook events (requested by inbox_sensor).",
    # Run monitoring (dagster.yaml) cancels a run still going after this; the sensors tag the
    # runs they request with SyncSettings.run_timeout_seconds instead.
    tags={MAX_RUNTIME_TAG: str(SYNC_RUN_TIMEOUT_SECONDS)},
)

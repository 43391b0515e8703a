"""Checks that run after every sync of ``synced_benchling_data``."""

import dagster as dg

from benchsync_dagster.defs.resources import PostgresResource, SyncSettings
from benchsync_dagster.defs.sync.assets import synced_benchling_data
from benchsync_dagster.storage import synced_data
from webhook_sensor_bridge import inbox


@dg.asset_check(asset=synced_benchling_data)
def one_row_per_entity(postgres: PostgresResource) -> dg.AssetCheckResult:
    """No entity has two rows, and every snapshot of a synced schema has its row."""
    with postgres.transaction() as connection:
        duplicated = synced_data.duplicate_ids(connection)
        missing = synced_data.snapshots_without_row(connection)
    return dg.AssetCheckResult(
        passed=duplicated == 0 and missing == 0,
        metadata={"duplicated_entities": duplicated, "snapshots_without_row": missing},
    )


@dg.asset_check(asset=synced_benchling_data)
def no_event_pending_too_long(
    postgres: PostgresResource, sync_settings: SyncSettings
) -> dg.AssetCheckResult:
    """No recorded event has waited longer than ``max_pending_seconds`` to be synced."""
    bound = sync_settings.max_pending_seconds
    with postgres.transaction() as connection:
        oldest = inbox.oldest_pending_seconds(connection)
    return dg.AssetCheckResult(
        passed=oldest is None or oldest <= bound,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"oldest_pending_seconds": oldest, "bound_seconds": bound},
    )

"""Reconciliation: list the registry and repair what webhooks missed (Benchling sends no archive
events, and delivers at least once, in any order, or not at all when the bridge was down long)."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from benchsync_dagster.benchling.fetch import BULK_GET_LIMIT, modified_after
from benchsync_dagster.defs.resources import BenchlingResource, PostgresResource
from benchsync_dagster.defs.sync.assets import (
    GROUP,
    benchling_registry,
    refresh_app_configuration,
    retried_when_benchling_fails,
    store_listed,
    synced_benchling_data,
    target_for_writing,
)
from benchsync_dagster.reconciliation import Drift, find_drift
from benchsync_dagster.storage import app_configuration, reconciliations, snapshots, synced_data

# What a row whose entity a full listing no longer returns is marked archived with (Benchling
# archives rather than deletes, so this is an entity the App can no longer see).
VANISHED_REASON = "Not returned by Benchling"
# Listing again a little before the watermark costs a page and catches clock-tie stragglers.
WATERMARK_OVERLAP = timedelta(minutes=5)


class ReconciliationConfig(dg.Config):
    full: bool = False
    """List every entity, archived included, and compare ids; else list changes since the
    last reconciliation's watermark."""


@dg.asset(
    deps=[benchling_registry, synced_benchling_data],
    group_name=GROUP,
    kinds={"postgres"},
    pool="benchling_api",
    check_specs=[dg.AssetCheckSpec("no_drift", asset="registry_reconciliation")],
    # It runs nightly whatever the tenant does; synced_benchling_data changes only when
    # Benchling does, so a quiet tenant would fail a freshness window there.
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26)),
)
@retried_when_benchling_fails
def registry_reconciliation(
    context: dg.AssetExecutionContext,
    config: ReconciliationConfig,
    benchling: BenchlingResource,
    postgres: PostgresResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]  # Dagster needs the bare class here
    """Lists the synced schema's entities by modifiedAt and repairs missing, stale and archived
    rows; its check fails when it found drift. Memory holds one page at a time."""
    started_at = datetime.now(UTC)
    run_id = context.run.run_id
    source = f"reconciliation:{run_id}"
    drift, listed, watermark_to = Drift(), 0, None
    refresh_app_configuration(benchling, postgres, 0)
    with postgres.session() as connection:
        stored = app_configuration.current(connection)
        assert stored is not None, "refresh_app_configuration stores one"
        target = stored.target
        stored_watermark = reconciliations.watermark(connection, target.schema_id)
        watermark_from = (
            None
            if config.full or stored_watermark is None
            else stored_watermark - WATERMARK_OVERLAP
        )
        pages = benchling.client.custom_entities.list(
            schema_id=target.schema_id,
            modified_at=modified_after(watermark_from) if watermark_from else None,
            archive_reason="ANY_ARCHIVED_OR_NOT_ARCHIVED",
            sort="modifiedAt:asc",
            page_size=BULK_GET_LIMIT,
        )
        for page in pages:
            documents = [entity.to_dict() for entity in page]
            ids = [document["id"] for document in documents]
            listed += len(documents)
            if documents:  # pages come in modifiedAt order: the last one is the newest
                watermark_to = pd.Timestamp(documents[-1]["modifiedAt"]).to_pydatetime()
            with connection.transaction():
                rows = synced_data.modified_at_by_id(connection, ids)
                repair = find_drift(documents, rows, drift)
                store_listed(connection, repair, {document["id"]: source for document in repair})
                if config.full:
                    reconciliations.note_listed(connection, run_id, ids)
        with connection.transaction():
            target_for_writing(connection)  # no rebuild runs while rows are archived
            if config.full:
                vanished = synced_data.archive_unlisted(
                    connection, target.schema_id, run_id, VANISHED_REASON
                )
                snapshots.archive(connection, vanished, VANISHED_REASON)
                drift.vanished = len(vanished)
                reconciliations.forget_listed(connection, run_id)
            reconciliations.record(
                connection,
                reconciliations.Reconciliation(
                    started_at=started_at,
                    mode="full" if config.full else "watermark",
                    schema_id=target.schema_id,
                    watermark_from=watermark_from,
                    watermark_to=watermark_to or stored_watermark,
                    listed=listed,
                    missing=drift.missing,
                    stale=drift.stale,
                    archived=drift.archived,
                    vanished=drift.vanished,
                    run_id=run_id,
                ),
            )
    if drift.total:
        # The repaired table changed outside a sync run: say so on its own timeline too.
        context.log_event(
            dg.AssetMaterialization(
                asset_key=synced_benchling_data.key,
                description=f"repaired by reconciliation run {run_id}",
                metadata={"rows_repaired": drift.total, **drift.as_metadata()},
            )
        )
    stats = benchling.call_stats
    return dg.MaterializeResult(
        metadata={
            "mode": "full" if config.full else "watermark",
            "schema_id": target.schema_id,
            "listed": listed,
            **drift.as_metadata(),
            "watermark_from": str(watermark_from),
            "watermark_to": str(watermark_to or stored_watermark),
            "benchling_requests": stats.requests,
            "benchling_throttled": stats.throttled,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="no_drift",
                passed=drift.total == 0,
                metadata={"rows_repaired": drift.total, **drift.as_metadata()},
            )
        ],
    )

"""Reconciliation: list the registry and repair what webhooks missed (Benchling sends no archive
events, and delivers at least once, in any order, or not at all when the bridge was down long)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
import pandas as pd
import psycopg

from benchsync_dagster import mapping
from benchsync_dagster.benchling.fetch import REGISTRY_TYPES, listed_since
from benchsync_dagster.defs.resources import BenchlingResource, PostgresResource, SyncSettings
from benchsync_dagster.defs.sync.assets import (
    GROUP,
    benchling_entity_snapshots,
    benchling_registry,
    refresh_app_configuration,
    retried_when_benchling_fails,
    store_listed,
    synced_benchling_data,
    target_for_writing,
)
from benchsync_dagster.defs.typed.assets import log_typed_writes
from benchsync_dagster.reconciliation import Drift, find_drift, oldest_copies
from benchsync_dagster.storage import (
    app_configuration,
    reconciliations,
    snapshots,
    synced_data,
    typed_tables,
)
from benchsync_dagster.typed.write import TableWrite, merged, write_typed

# What an entity a full listing no longer returns is marked archived with (Benchling archives
# rather than deletes, so this is an entity the App can no longer see).
VANISHED_REASON = "Not returned by Benchling"
# Listing again a little before the watermark costs a page and catches clock-tie stragglers.
WATERMARK_OVERLAP = timedelta(minutes=5)


class ReconciliationConfig(dg.Config):
    full: bool = False
    """List every entity of every type, archived included, and mark archived what Benchling no
    longer returns; else list each type's changes since its last reconciliation's watermark."""


@dataclass
class TypeListing:
    """What listing one entity type found."""

    drift: Drift = field(default_factory=Drift)
    listed: int = 0
    watermark_to: datetime | None = None  # the newest modifiedAt listed
    typed: list[TableWrite] = field(default_factory=list)  # what it wrote to typed tables


@dg.asset(
    deps=[benchling_registry, benchling_entity_snapshots, synced_benchling_data],
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
    sync_settings: SyncSettings,
) -> dg.MaterializeResult:  # type: ignore[type-arg]  # Dagster needs the bare class here
    """Lists each of the eight entity types, every mirrored schema, and repairs missing, stale
    and archived snapshots and rows; its check fails when it found drift. Memory holds one page
    (≤ 100 entities) at a time."""
    run_id = context.run.run_id
    mode = "full" if config.full else "watermark"
    mirrored = sync_settings.mirrored_schemas()
    refresh_app_configuration(benchling, postgres, 0)
    with postgres.session() as connection:
        started_at = app_configuration.database_now(connection)
        since = (
            {}
            if config.full
            else {
                entity_type: watermark - WATERMARK_OVERLAP
                for entity_type, watermark in reconciliations.watermarks(connection).items()
            }
        )
        listings = {
            entity_type: _reconcile_type(
                connection,
                benchling,
                entity_type,
                since.get(entity_type),
                mirrored,
                run_id,
                note_listed=config.full,
            )
            for entity_type in REGISTRY_TYPES
        }
        with connection.transaction():
            untyped = snapshots.one_per_untyped_schema(connection)
            # Writing one entity of a schema makes its table, filled from all its snapshots.
            made = write_typed(
                connection,
                [s.document for s in untyped],
                {s.document["id"]: s.source_event for s in untyped if s.source_event},
                {s.document["id"]: s.entity_type for s in untyped},
                benchling.describe_schema,
            )
        with connection.transaction():
            target_for_writing(connection)  # no rebuild runs while rows are archived
            if config.full:
                vanished = snapshots.archive_unlisted(
                    connection, run_id, started_at, VANISHED_REASON
                )
                for _, entity_type in vanished:
                    listings[entity_type].drift.vanished += 1
                typed_tables.archive(
                    connection,
                    typed_tables.load(connection).values(),
                    [entity_id for entity_id, _ in vanished],
                    VANISHED_REASON,
                )
                synced_data.archive_unlisted(connection, run_id, started_at, VANISHED_REASON)
                reconciliations.forget_listed(connection, run_id)
            for entity_type, listing in listings.items():
                reconciliations.record(
                    connection,
                    reconciliations.Reconciliation(
                        started_at=started_at,
                        mode=mode,
                        entity_type=entity_type,
                        schema_id=None,
                        watermark_from=since.get(entity_type),
                        watermark_to=listing.watermark_to,
                        run_id=run_id,
                        listed=listing.listed,
                        **listing.drift.as_metadata(),
                    ),
                )
    drift = Drift()
    for listing in listings.values():
        drift.add(listing.drift)
    log_typed_writes(
        context, merged([*made, *(w for listing in listings.values() for w in listing.typed)])
    )
    if drift.total:
        # The repaired tables changed outside a sync run: say so on their own timelines too.
        for repaired in (benchling_entity_snapshots, synced_benchling_data):
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=repaired.key,
                    description=f"repaired by reconciliation run {run_id}",
                    metadata={"rows_repaired": drift.total, **drift.as_metadata()},
                )
            )
    stats = benchling.call_stats
    return dg.MaterializeResult(
        metadata={
            "mode": mode,
            "listed": sum(listing.listed for listing in listings.values()),
            "listed_by_type": dg.MetadataValue.json(
                {entity_type: listing.listed for entity_type, listing in listings.items()}
            ),
            **drift.as_metadata(),
            "drift_by_type": dg.MetadataValue.json(
                {
                    entity_type: listing.drift.as_metadata()
                    for entity_type, listing in listings.items()
                    if listing.drift.total
                }
            ),
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


def _reconcile_type(
    connection: psycopg.Connection[Any],
    benchling: BenchlingResource,
    entity_type: str,
    since: datetime | None,
    mirrored: frozenset[str] | None,
    run_id: str,
    note_listed: bool,
) -> TypeListing:
    """List one type page by page, each page's drift counted and repaired in one transaction
    (and its ids noted for the vanished comparison, when ``note_listed``)."""
    listing = TypeListing()
    source = f"reconciliation:{run_id}"
    for documents in listed_since(benchling.client, entity_type, since):
        listing.listed += len(documents)
        kept = mapping.to_mirror(documents, mirrored)
        if kept:  # pages come in modifiedAt order: the last one is the newest
            listing.watermark_to = pd.Timestamp(kept[-1]["modifiedAt"]).to_pydatetime()
        with connection.transaction():
            repair = find_drift(kept, _stored(connection, kept), listing.drift)
            sources = {document["id"]: source for document in repair}
            _, typed = store_listed(
                connection,
                repair,
                sources,
                dict.fromkeys(sources, entity_type),
                benchling.describe_schema,
            )
            listing.typed += typed
            if note_listed:
                listed_ids = [d["id"] for d in documents if isinstance(d.get("id"), str)]
                reconciliations.note_listed(connection, run_id, listed_ids)
    return listing


def _stored(
    connection: psycopg.Connection[Any], documents: list[mapping.EntityDocument]
) -> dict[str, tuple[datetime, bool]]:
    """What is stored of these entities, to compare with their documents."""
    ids = [document["id"] for document in documents]
    stored = app_configuration.current(connection)
    synced_ids = (
        []
        if stored is None
        else [d["id"] for d in documents if mapping.schema_id(d) == stored.schema_id]
    )
    return oldest_copies(
        snapshots.modified_at_by_id(connection, ids),
        synced_data.modified_at_by_id(connection, synced_ids),
        synced_ids,
    )

"""Reconciliation: list the registry and repair what webhooks missed (Benchling sends no archive
events, and delivers at least once, in any order, or not at all when the bridge was down long)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import dagster as dg
import pandas as pd
import psycopg

from benchsync_core.kinds import KINDS
from benchsync_core.settings import ConfigurationError
from benchsync_dagster import mapping
from benchsync_dagster.benchling.listing import WATERMARK_OVERLAP, ListFilters, listed
from benchsync_dagster.defs.liveness.resources import RunHeartbeat
from benchsync_dagster.defs.resources import BenchlingResource, PostgresResource, SyncSettings
from benchsync_dagster.defs.step_retries import retried_when_benchling_fails
from benchsync_dagster.defs.typed.assets import log_typed_writes
from benchsync_dagster.defs.typed.checks import log_typed_table_problems
from benchsync_dagster.defs.upstream import GROUP, benchling_registry
from benchsync_dagster.defs.writers import refresh_app_configuration
from benchsync_dagster.listed_writes import store_listed, target_for_writing
from benchsync_dagster.reconciliation import Drift, Vanishing, find_drift, oldest_copies
from benchsync_dagster.storage import (
    StoredVersion,
    app_configuration,
    reconciliations,
    snapshots,
    synced_data,
    typed_tables,
)
from benchsync_dagster.typed.write import TableWrite, merged, unmatched_schemas, write_typed

# What an entity a full listing no longer returns is marked archived with (Benchling archives
# rather than deletes, so this is an entity the App can no longer see).
VANISHED_REASON = "Not returned by Benchling"
# The tables it repairs, downstream of it (their assets are defined by the sync).
REPAIRED = (dg.AssetKey("benchling_entity_snapshots"), dg.AssetKey("synced_benchling_data"))


class ReconciliationConfig(dg.Config):
    full: bool = False
    """List every entity of every type, archived included, and mark archived what Benchling no
    longer returns; else list each type's changes since its last reconciliation's watermark."""
    # pydantic copies these defaults per instance, so the shared-mutable-default hazard is absent.
    archive_vanished_of: list[str] = []  # noqa: RUF012
    """Entity types whose entities a full listing did not return are archived however many
    they are: for a run launched by hand, once Benchling shows they are gone for good (the
    guard, BENCHSYNC_RECONCILE_MAX_VANISHED_PERCENT, holds every other type)."""


VANISHING_GUARD = dg.AssetCheckSpec(
    "vanishing_within_guard",
    asset="registry_reconciliation",
    # Blocking, with ERROR severity: when it fails, the run fails.
    blocking=True,
    description="A full reconciliation archived, of each entity type, the entities Benchling did"
    " not return only while they were at most BENCHSYNC_RECONCILE_MAX_VANISHED_PERCENT of the"
    " type's mirrored entities and not all of them (lost access answers lists with fewer"
    " items); a type beyond that had none archived.",
)


@dataclass
class TypeListing:
    """What listing one entity type found."""

    drift: Drift = field(default_factory=Drift)
    listed: int = 0
    watermark_to: datetime | None = None  # the newest modifiedAt listed
    withheld: int = 0  # not returned, yet not archived: beyond the guard
    typed: list[TableWrite] = field(default_factory=list)  # what it wrote to typed tables


@dg.asset(
    # Upstream of the tables it repairs (benchling_entity_snapshots depends on it).
    deps=[benchling_registry],
    group_name=GROUP,
    kinds={"postgres"},
    pool="benchling_api",
    check_specs=[dg.AssetCheckSpec("no_drift", asset="registry_reconciliation"), VANISHING_GUARD],
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
    run_heartbeat: RunHeartbeat,
) -> dg.MaterializeResult:  # type: ignore[type-arg]  # Dagster needs the bare class here
    """Lists each of the eight entity types, every mirrored schema, and repairs missing, stale
    and archived snapshots and rows, and those archived as vanished that Benchling returns
    again; its check fails when it found drift. In full mode, what Benchling no longer returns
    is archived as vanished, unless that is more of a type than the guard allows: then none of
    that type is, and the run fails. Memory holds one page (≤ 100 entities) at a time."""
    unknown = sorted(set(config.archive_vanished_of) - set(KINDS))
    if unknown:
        raise ConfigurationError(
            f"archive_vanished_of names no entity type: {', '.join(unknown)}"
            f" (the types are {', '.join(KINDS)})"
        )
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
            for entity_type in KINDS
        }
        untyped = snapshots.one_per_untyped_schema(connection)
        untyped_documents = [s.document for s in untyped]
        described = {
            schema_id: benchling.describe_schema(schema_id)
            for schema_id in unmatched_schemas(connection, untyped_documents)
        }
        with connection.transaction():
            # Writing one entity of a schema makes its table; typed_table_backfill_job fills
            # it from the schema's other snapshots.
            made = write_typed(
                connection,
                untyped_documents,
                {s.document["id"]: s.source_event for s in untyped if s.source_event},
                {s.document["id"]: s.entity_type for s in untyped},
                described,
            )
        with connection.transaction():
            target_for_writing(connection)  # no rebuild runs while rows are archived
            held_back: list[Vanishing] = []
            if config.full:
                held_back = _over_the_guard(
                    connection, run_id, started_at, listings, config, sync_settings
                )
                for vanishing in held_back:
                    listings[vanishing.entity_type].withheld = vanishing.unlisted
                held_types = {vanishing.entity_type for vanishing in held_back}
                vanished = snapshots.mark_vanished(
                    connection,
                    run_id,
                    started_at,
                    VANISHED_REASON,
                    [entity_type for entity_type in KINDS if entity_type not in held_types],
                )
                for _, entity_type in vanished:
                    listings[entity_type].drift.vanished += 1
                vanished_ids = [entity_id for entity_id, _ in vanished]
                typed_tables.mark_vanished(
                    connection,
                    typed_tables.load(connection).values(),
                    vanished_ids,
                    VANISHED_REASON,
                )
                synced_data.mark_vanished(connection, vanished_ids, VANISHED_REASON)
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
                        withheld=listing.withheld,
                        **listing.drift.as_metadata(),
                    ),
                )
    drift = Drift()
    for listing in listings.values():
        drift.add(listing.drift)
    log_typed_writes(
        context, merged([*made, *(w for listing in listings.values() for w in listing.typed)])
    )
    log_typed_table_problems(context, postgres)
    if drift.total:
        # The repaired tables changed outside a sync run: say so on their own timelines too.
        for repaired in REPAIRED:
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=repaired,
                    description=f"repaired by reconciliation run {run_id}",
                    metadata={"rows_repaired": drift.total, **drift.as_metadata()},
                )
            )
    guard = _guard_result(held_back, sync_settings.reconcile_max_vanished_percent)
    if not guard.passed:
        context.log.error(guard.description or "")
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
            ),
            guard,
        ],
    )


def _over_the_guard(
    connection: psycopg.Connection[Any],
    run_id: str,
    started_at: datetime,
    listings: dict[str, TypeListing],
    config: ReconciliationConfig,
    sync_settings: SyncSettings,
) -> list[Vanishing]:
    """The entity types whose unlisted entities the guard keeps from being archived."""
    held_back = []
    for entity_type, unlisted in snapshots.unlisted_by_type(connection, run_id, started_at).items():
        vanishing = Vanishing(
            entity_type, listings[entity_type].listed, unlisted.stored, unlisted.unlisted
        )
        if entity_type not in config.archive_vanished_of and vanishing.over_guard(
            sync_settings.reconcile_max_vanished_percent
        ):
            held_back.append(vanishing)
    return held_back


def _guard_result(held_back: list[Vanishing], max_percent: int) -> dg.AssetCheckResult:
    """``vanishing_within_guard``: which types had nothing archived, and their counts."""
    description = (
        "Archived none of "
        + "; ".join(vanishing.describe() for vanishing in held_back)
        + f". More than BENCHSYNC_RECONCILE_MAX_VANISHED_PERCENT ({max_percent} %) of a type,"
        " or all of it, is more likely access the App lost (to a project) than entities gone:"
        " check the App's access in Benchling. If they are gone for good, launch"
        " reconciliation_job with full: true and archive_vanished_of naming the type."
        if held_back
        else None
    )
    return dg.AssetCheckResult(
        check_name=VANISHING_GUARD.name,
        passed=not held_back,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "max_vanished_percent": max_percent,
            "held_back": dg.MetadataValue.json(
                {
                    vanishing.entity_type: {
                        "listed": vanishing.listed,
                        "stored": vanishing.stored,
                        "not_returned": vanishing.unlisted,
                    }
                    for vanishing in held_back
                }
            ),
        },
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
    for documents in listed(
        benchling.client, KINDS[entity_type], ListFilters(modified_after=since)
    ):
        listing.listed += len(documents)
        kept = mapping.to_mirror(documents, mirrored)
        if kept:  # pages come in modifiedAt order: the last one is the newest
            listing.watermark_to = pd.Timestamp(kept[-1]["modifiedAt"]).to_pydatetime()
        # Before the page's transaction: a Benchling call may wait for a rate slot.
        described = {
            schema_id: benchling.describe_schema(schema_id)
            for schema_id in unmatched_schemas(connection, kept)
        }
        with connection.transaction():
            repair = find_drift(kept, _stored(connection, kept), listing.drift)
            sources = {document["id"]: source for document in repair}
            _, typed = store_listed(
                connection,
                repair,
                sources,
                dict.fromkeys(sources, entity_type),
                described,
            )
            listing.typed += typed
            if note_listed:
                listed_ids = [d["id"] for d in documents if isinstance(d.get("id"), str)]
                reconciliations.note_listed(connection, run_id, listed_ids)
    return listing


def _stored(
    connection: psycopg.Connection[Any], documents: list[mapping.EntityDocument]
) -> dict[str, StoredVersion]:
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

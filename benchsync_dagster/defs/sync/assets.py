"""The Postgres tables a sync run writes from a batch of inbox events, and the App
configuration they are written with.

A run's config names its batch (the webhook ids of inbox events). ``benchling_entity_snapshots``
fetches the batch's entities and stores them raw; ``synced_benchling_data`` derives the seed's
rows from those snapshots, with the App configuration stored in Postgres (never one frozen in
the run's config), and settles the batch's events. Both write newest-wins, so a rerun or
re-execution of any run changes nothing that a newer run wrote.
"""

from typing import Any

import dagster as dg
import pandas as pd

from benchsync_dagster import batch_events, mapping
from benchsync_dagster.benchling.fetch import Wanted, fetched_in_chunks, sort_by_type
from benchsync_dagster.defs.liveness.resources import RunHeartbeat
from benchsync_dagster.defs.poll.assets import registry_poll
from benchsync_dagster.defs.reconciliation.assets import registry_reconciliation
from benchsync_dagster.defs.resources import BenchlingResource, PostgresResource, SyncSettings
from benchsync_dagster.defs.step_retries import retried_when_benchling_fails
from benchsync_dagster.defs.typed.assets import log_typed_writes
from benchsync_dagster.defs.upstream import GROUP, benchling_registry, benchling_webhook_inbox
from benchsync_dagster.defs.writers import refresh_app_configuration, table_metadata
from benchsync_dagster.listed_writes import target_for_writing
from benchsync_dagster.rebuild import Rebuild, rebuild_if_stale
from benchsync_dagster.snapshot_writer import SnapshotWriter
from benchsync_dagster.storage import app_configuration, snapshots, synced_data, typed_tables
from webhook_sensor_bridge import inbox


class InboxEventsConfig(dg.Config):
    """The inbox events a run settles."""

    # pydantic copies these defaults per instance, so the shared-mutable-default hazard is absent.
    webhook_ids: list[str] = []  # noqa: RUF012
    batch: str | None = None
    """The batch's run key, naming the stretch of the inbox its events were read from: only
    events still there are settled (one requeued since belongs to a later batch). A run
    launched by hand without it settles every named pending event."""

    @property
    def span(self) -> inbox.BatchSpan | None:
        return inbox.BatchSpan.parse(self.batch) if self.batch else None


class SyncBatchConfig(InboxEventsConfig):
    """Which events (and entities besides them) a run syncs."""

    entity_ids: list[str] = []  # noqa: RUF012


@dg.asset(
    # The sync writes what the inbox's events name, fetched from the registry; the poll and the
    # reconciliation write the same table (and log its materialization when they write it).
    deps=[benchling_webhook_inbox, benchling_registry, registry_poll, registry_reconciliation],
    group_name=GROUP,
    kinds={"postgres"},
    pool="benchling_api",
)
@retried_when_benchling_fails
def benchling_entity_snapshots(
    context: dg.AssetExecutionContext,
    config: SyncBatchConfig,
    benchling: BenchlingResource,
    postgres: PostgresResource,
    sync_settings: SyncSettings,
    run_heartbeat: RunHeartbeat,
) -> dg.MaterializeResult[Any]:
    """One raw jsonb document per entity, the newest ``modifiedAt`` winning (entities of
    schemas ``BENCHSYNC_SCHEMAS`` leaves out are not stored, their events ignored)."""
    with postgres.transaction() as connection:
        events = inbox.rows_by_webhook_id(connection, config.webhook_ids)
        schema_types = snapshots.schema_types(
            connection, sorted({e.schema_id for e in events if e.schema_id})
        )
    entity_ids, source_events = batch_events.batch_entities(events, config.entity_ids)
    wanted_by_event = batch_events.wanted_by_event(events)
    extras = [Wanted(i) for i in entity_ids if i not in source_events]
    sorting = sort_by_type(
        benchling.describe_schema,
        list(dict.fromkeys([*wanted_by_event.values(), *extras])),
        schema_types,
    )
    by_type = sorting.by_type
    refused = dict(sorting.unknown)
    # Written as fetched, in writes of at most half the budget, for a call (sized to the other
    # half) to be held beside them.
    half_budget = sync_settings.max_batch_bytes // 2
    writer = SnapshotWriter(
        postgres.transaction,
        benchling.describe_schema,
        sync_settings.mirrored_schemas(),
        source_events,
        half_budget,
    )
    for entity_type, ids in by_type.items():
        for fetched in fetched_in_chunks(benchling.client, entity_type, ids, half_budget):
            writer.add(fetched.documents, entity_type)
            for entity, its_type in sorting.types.items():
                if its_type == entity_type and entity.entity_id in fetched.unavailable:
                    refused[entity] = fetched.unavailable[entity.entity_id]
    writer.flush()

    unsynced = batch_events.unsynced(
        events, wanted_by_event, refused, writer.malformed, writer.not_mirrored
    )
    with postgres.transaction() as connection:
        for reason, webhook_ids in unsynced.dead.items():
            inbox.mark_dead(connection, webhook_ids, reason, config.span)
        inbox.mark_dead(connection, unsynced.without_entity, batch_events.NO_ENTITY, config.span)
        for reason, webhook_ids in unsynced.ignored:
            inbox.mark_ignored(connection, webhook_ids, reason, config.span)
        total = snapshots.row_count(connection)
    for reason, webhook_ids in unsynced.dead.items():
        # The reason names the entity, quoted and cut short when it is no id.
        context.log.warning(f"dead-lettered {len(webhook_ids)} event(s): {reason}")
    log_typed_writes(context, writer.typed)

    stats = benchling.call_stats
    if stats.throttled:
        context.log.warning(
            f"Benchling answered 429 {stats.throttled} times; waited"
            f" {stats.waited_seconds:.1f} s in all, as x-rate-limit-reset said"
        )
    return dg.MaterializeResult(
        metadata={
            **table_metadata(snapshots.TABLE, snapshots.COLUMNS, total),
            "events_in_batch": len(events),
            "entities_fetched": len(writer.entities),
            "entities_by_type": dg.MetadataValue.json({t: len(ids) for t, ids in by_type.items()}),
            "rows_written": writer.written,
            "writes": writer.flushes,
            "events_dead_lettered": unsynced.dead_count,
            "entities_not_mirrored": len(writer.not_mirrored),
            "oldest_event_age_seconds": batch_events.oldest_event_age_seconds(events),
            "benchling_requests": stats.requests,
            "benchling_throttled": stats.throttled,
            "benchling_wait_seconds": round(stats.waited_seconds, 3),
            "benchling_rate_limit": dg.MetadataValue.json(stats.last_rate_limit_headers),
        }
    )


def _rebuild_metadata(rebuild: Rebuild | None) -> dict[str, Any]:
    if rebuild is None:
        return {}
    return {
        "rebuilt_for": f"{rebuild.target.schema_id} / {rebuild.target.field_name}",
        "rebuilt_rows": rebuild.written,
        "rows_of_other_schemas_removed": rebuild.removed,
    }


# The batch's stored documents read back at a time to make its rows: cut to what a row needs
# (snapshots.ROW_KEYS), a few kB each.
SYNCED_ROWS_CHUNK = 1000

ONE_ROW_PER_ENTITY = dg.AssetCheckSpec(
    "one_row_per_entity",
    asset="synced_benchling_data",
    description="No entity of the run's batch has two rows, and each whose snapshot is of the"
    " synced schema has its row (checked over the batch: its cost does not grow with the table).",
)


@dg.asset(
    deps=[benchling_entity_snapshots, "benchling_app_configuration"],
    group_name=GROUP,
    kinds={"postgres"},
    check_specs=[ONE_ROW_PER_ENTITY],
)
@retried_when_benchling_fails
def synced_benchling_data(
    context: dg.AssetExecutionContext,
    config: SyncBatchConfig,
    benchling: BenchlingResource,
    postgres: PostgresResource,
    sync_settings: SyncSettings,
    run_heartbeat: RunHeartbeat,
) -> dg.MaterializeResult:  # type: ignore[type-arg]  # Dagster matches the bare class
    """The seed's table: one row per entity of the App's "Synced Schema", with its field value."""
    refresh_app_configuration(benchling, postgres, sync_settings.config_refresh_seconds)
    with postgres.transaction() as connection:
        target = target_for_writing(connection)
        field_names = typed_tables.synced_field_names(connection, target)
        events = inbox.rows_by_webhook_id(connection, config.webhook_ids)
        entity_ids, source_events = batch_events.batch_entities(events, config.entity_ids)
        written = 0
        for chunk in snapshots.stored_of_schema(
            connection, target.schema_id, SYNCED_ROWS_CHUNK, entity_ids
        ):
            documents = [snapshot.document for snapshot in chunk]
            frame = mapping.synced_data_frame(documents, field_names, source_events)
            written += synced_data.upsert(connection, frame)
        settled = inbox.mark_synced(connection, config.webhook_ids, config.span)
        total = synced_data.row_count(connection)
        preview = synced_data.preview(connection, entity_ids)
        duplicated = synced_data.duplicate_ids(connection, entity_ids)
        missing = synced_data.snapshots_without_row(connection, entity_ids, target.schema_id)
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name=ONE_ROW_PER_ENTITY.name,
                passed=duplicated == 0 and missing == 0,
                metadata={"duplicated_entities": duplicated, "snapshots_without_row": missing},
            )
        ],
        metadata={
            **table_metadata(synced_data.TABLE, synced_data.COLUMNS, total),
            "synced_schema_id": target.schema_id,
            "synced_field": target.field_name,
            "rows_written": written,
            "events_settled": settled,
            "oldest_event_age_seconds": batch_events.oldest_event_age_seconds(events),
            "preview": dg.MetadataValue.md(_markdown(preview)),
        },
    )


@dg.asset(
    # It reads the configuration from Benchling, and settles the inbox's configuration events.
    deps=[benchling_webhook_inbox, benchling_registry],
    group_name=GROUP,
    kinds={"benchling", "postgres"},
)
@retried_when_benchling_fails
def benchling_app_configuration(
    context: dg.AssetExecutionContext,
    config: InboxEventsConfig,
    benchling: BenchlingResource,
    postgres: PostgresResource,
    run_heartbeat: RunHeartbeat,
) -> dg.MaterializeResult[Any]:
    """The App's "Synced Schema" and "Synced Field Data", read from Benchling into
    ``benchsync.app_configuration``; when they changed, ``synced_benchling_data`` is rebuilt
    from the stored snapshots (no Benchling calls). Requested when Benchling says the
    configuration was updated; sync runs also read it again once it is
    ``BENCHSYNC_CONFIG_REFRESH_SECONDS`` old."""
    run_id = context.run.run_id
    refresh_app_configuration(benchling, postgres, 0)
    with postgres.transaction() as connection:
        # Chunks of a server-side cursor, in one transaction holding the configuration's lock.
        rebuild = rebuild_if_stale(connection, f"app-configuration:{run_id}")
    with postgres.transaction() as connection:
        stored = app_configuration.current(connection)
        settled = inbox.mark_synced(connection, config.webhook_ids, config.span)
    assert stored is not None
    if rebuild is not None:
        context.log.info(
            f"the App configuration changed from {rebuild.previous} to {rebuild.target}:"
            f" rebuilt {rebuild.written} rows of synced_benchling_data from the snapshots"
        )
        # The rebuilt table changed outside a sync run: say so on its own timeline too.
        context.log_event(
            dg.AssetMaterialization(
                asset_key=synced_benchling_data.key,
                description=f"rebuilt for the App configuration by run {run_id}",
                metadata=_rebuild_metadata(rebuild),
            )
        )
    return dg.MaterializeResult(
        metadata={
            "app_id": stored.app_id,
            "synced_schema_id": stored.schema_id,
            "synced_field": stored.field_name,
            "events_settled": settled,
            **_rebuild_metadata(rebuild),
        }
    )


def _markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False) if not frame.empty else "_no rows yet_"

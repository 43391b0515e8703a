"""The registry upstream, and the Postgres tables a sync run writes from a batch of inbox events.

A run's config names its batch (the webhook ids of inbox events). ``benchling_entity_snapshots``
fetches the batch's entities and stores them raw; ``synced_benchling_data`` derives the seed's
rows from those snapshots, with the App configuration stored in Postgres (never one frozen in
the run's config), and settles the batch's events. Both write newest-wins, so a rerun or
re-execution of any run changes nothing that a newer run wrote.
"""

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

import dagster as dg
import pandas as pd
import psycopg

from benchsync_core.settings import ConfigurationError
from benchsync_dagster import mapping
from benchsync_dagster.benchling.app_config import read_sync_target
from benchsync_dagster.benchling.client import is_outage
from benchsync_dagster.benchling.fetch import Wanted, fetched_in_chunks, sort_by_type
from benchsync_dagster.defs.liveness.resources import RunHeartbeat
from benchsync_dagster.defs.resources import BenchlingResource, PostgresResource, SyncSettings
from benchsync_dagster.defs.typed.assets import log_typed_writes
from benchsync_dagster.rebuild import Rebuild, rebuild_if_stale
from benchsync_dagster.snapshot_writer import SnapshotWriter
from benchsync_dagster.storage import app_configuration, snapshots, synced_data, typed_tables
from benchsync_dagster.storage.app_configuration import SyncTarget
from benchsync_dagster.typed.write import Describe, TableWrite, write_typed
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.inbox.event_types import SYNCED_ENTITY_EVENT_TYPES

GROUP = "benchling_sync"

benchling_registry = dg.AssetSpec(
    key="benchling_registry",
    description="The Benchling tenant's registry: custom entities, read through benchling-sdk.",
    group_name=GROUP,
    kinds={"benchling"},
)

# Benchling or the network failing mid-step: try the step again before failing the run.
BENCHLING_RETRIES = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
# Benchling unavailable (no connection, 502/503/504): the step waits it out, trying again every
# 30 s at most, about 7 minutes in all (with the SDK's own tries, inside the run's timeout,
# SYNC_RUN_TIMEOUT_SECONDS). Retries share Dagster's one count per step: once past the ordinary
# three, an ordinary error fails the step.
OUTAGE_RETRIES = 16
OUTAGE_RETRY_CAP_SECONDS = 30.0

Params = ParamSpec("Params")
Result = TypeVar("Result")


def retried_when_benchling_fails(
    compute: Callable[Concatenate[dg.AssetExecutionContext, Params], Result],
) -> Callable[Concatenate[dg.AssetExecutionContext, Params], Result]:
    """A step that calls Benchling, asking Dagster to run it again (``BENCHLING_RETRIES``) when
    it fails, for longer while Benchling is unavailable (``OUTAGE_RETRIES``: an outage pauses
    the sync rather than spending the batch's attempts), but not for a bad setting, which no
    retry mends.

    Requested by the step rather than declared as its ``retry_policy``: Dagster retries an
    interrupted step that has a policy, so "Terminate" in the UI would not stop the run.
    """

    @functools.wraps(compute)
    def attempt(
        context: dg.AssetExecutionContext, /, *args: Params.args, **kwargs: Params.kwargs
    ) -> Result:
        try:
            return compute(context, *args, **kwargs)
        except (ConfigurationError, dg.Failure):
            raise  # a bad setting, or a failure that says itself whether to retry
        except Exception as error:
            delay = BENCHLING_RETRIES.calculate_delay(context.retry_number + 1)
            if not is_outage(error):
                raise dg.RetryRequested(
                    max_retries=BENCHLING_RETRIES.max_retries, seconds_to_wait=delay
                ) from error
            wait = min(delay, OUTAGE_RETRY_CAP_SECONDS)
            context.log.warning(
                f"Benchling is unavailable ({error}); trying again in {wait:.0f} s"
                f" (retry {context.retry_number + 1} of {OUTAGE_RETRIES})"
            )
            raise dg.RetryRequested(max_retries=OUTAGE_RETRIES, seconds_to_wait=wait) from error

    return attempt


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


_SQL_TYPES = {"string": "text", "bool": "boolean", "datetime64[us, UTC]": "timestamptz"}


def table_metadata(table: str, columns: Mapping[str, str], row_count: int) -> dict[str, Any]:
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name, _SQL_TYPES[dtype]) for name, dtype in columns.items()]
    )
    return {
        "dagster/table_name": table,
        "dagster/row_count": row_count,
        "dagster/column_schema": schema,
    }


def _oldest_event_age_seconds(events: Sequence[inbox.InboxRow]) -> float | None:
    if not events:
        return None
    oldest = min(event.received_at for event in events)
    return round((datetime.now(UTC) - oldest).total_seconds(), 3)


def _batch_entities(
    events: Sequence[inbox.InboxRow], extra_ids: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """The batch's entity ids (event order, then extras) and, per entity, its newest event."""
    source_events = {e.resource_id: e.webhook_id for e in events if e.resource_id}
    return list(dict.fromkeys([*source_events, *extra_ids])), source_events


@dg.asset(
    deps=[benchling_registry],
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
    entity_ids, source_events = _batch_entities(events, config.entity_ids)
    # One Wanted per event: an event wrong about its entity's type must not sink the others.
    wanted_by_event = {
        e.webhook_id: Wanted(e.resource_id, e.message_type, e.schema_id)
        for e in events
        if e.resource_id
    }
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

    dead: dict[str, list[str]] = {}  # reason → the webhook ids it dead-letters
    for webhook_id, entity in wanted_by_event.items():
        reason = refused.get(entity) or writer.malformed.get(entity.entity_id)
        if reason:
            dead.setdefault(reason, []).append(webhook_id)
    without_entity = [
        e.webhook_id
        for e in events
        if e.message_type in SYNCED_ENTITY_EVENT_TYPES and not e.resource_id
    ]
    with postgres.transaction() as connection:
        for reason, webhook_ids in dead.items():
            inbox.mark_dead(connection, webhook_ids, reason, config.span)
        inbox.mark_dead(
            connection, without_entity, "the event names no entity (resourceId)", config.span
        )
        for entity_id, reason in writer.not_mirrored.items():
            webhook_ids = [e.webhook_id for e in events if e.resource_id == entity_id]
            inbox.mark_ignored(connection, webhook_ids, reason, config.span)
        total = snapshots.row_count(connection)
    for reason, webhook_ids in dead.items():
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
            "events_dead_lettered": sum(len(ids) for ids in dead.values()),
            "entities_not_mirrored": len(writer.not_mirrored),
            "oldest_event_age_seconds": _oldest_event_age_seconds(events),
            "benchling_requests": stats.requests,
            "benchling_throttled": stats.throttled,
            "benchling_wait_seconds": round(stats.waited_seconds, 3),
            "benchling_rate_limit": dg.MetadataValue.json(stats.last_rate_limit_headers),
        }
    )


def refresh_app_configuration(
    benchling: BenchlingResource, postgres: PostgresResource, max_age_seconds: float
) -> None:
    """Read the App configuration from Benchling when none is stored or the stored one is
    ``max_age_seconds`` old, and store it. (When it changed, ``inbox_sensor`` sees it and
    requests ``app_configuration_job``, which rebuilds the rows.)"""
    with postgres.transaction() as connection:
        stored = app_configuration.current(connection)
        app_id = benchling.app_id or inbox.latest_app_id(connection, benchling.tenant_url)
    age = (datetime.now(UTC) - stored.read_at).total_seconds() if stored else None
    if age is None or age >= max_age_seconds:
        app_id = app_id or (stored.app_id if stored else None)
        if app_id is None:
            raise ConfigurationError(
                "BENCHLING_APP_ID is not set and no verified webhook from this tenant, for"
                " APP_DEFINITION_ID, has told us the App's id yet"
            )
        with postgres.transaction() as connection:
            read_at = app_configuration.database_now(connection)
        target = read_sync_target(benchling.client, app_id)
        with postgres.transaction() as connection:
            app_configuration.store(connection, app_id, target, read_at)
            if stored is None and synced_data.row_count(connection) == 0:
                app_configuration.mark_built(connection, target)  # a first install: no rows


def target_for_writing(connection: psycopg.Connection[Any]) -> SyncTarget:
    """The stored App configuration, locked against a rebuild until the transaction ends."""
    stored = app_configuration.for_writing(connection)
    assert stored is not None, "refresh_app_configuration stores one first"
    return stored.target


def store_listed(
    connection: psycopg.Connection[Any],
    documents: Sequence[mapping.EntityDocument],
    sources: Mapping[str, str],
    entity_types: Mapping[str, str],
    describe: Describe,
) -> tuple[int, list[TableWrite]]:
    """A listing's documents written: their snapshots, their typed tables' rows, and the rows of
    those of the configured schema, with the configuration as it stands now (it may have
    changed since the listing began), locked against a rebuild until the transaction ends.
    Returns the snapshots written, and what was written to the typed tables."""
    stored = app_configuration.for_writing(connection)
    written = snapshots.upsert(connection, mapping.snapshot_frame(documents, sources, entity_types))
    typed_writes = write_typed(connection, documents, sources, entity_types, describe)
    if stored is not None:
        of_schema = [d for d in documents if mapping.schema_id(d) == stored.schema_id]
        names = typed_tables.synced_field_names(connection, stored.target)
        synced_data.upsert(connection, mapping.synced_data_frame(of_schema, names, sources))
    return written, typed_writes


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
        entity_ids, source_events = _batch_entities(events, config.entity_ids)
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
            "oldest_event_age_seconds": _oldest_event_age_seconds(events),
            "preview": dg.MetadataValue.md(_markdown(preview)),
        },
    )


@dg.asset(deps=[benchling_registry], group_name=GROUP, kinds={"benchling", "postgres"})
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

"""The incremental poll: every entity type listed by ``modifiedAt`` since its watermark,
archived included. It catches what sends no event — AA sequences', mixtures' and molecules'
edits, archives and unarchives of every type — and whatever a webhook missed."""

from datetime import datetime
from typing import Any

import dagster as dg
import pandas as pd
import psycopg

from benchsync_core.kinds import KINDS
from benchsync_dagster import mapping
from benchsync_dagster.benchling import listing
from benchsync_dagster.benchling.client import is_outage
from benchsync_dagster.benchling.listing import BULK_GET_LIMIT, WATERMARK_OVERLAP, ListFilters
from benchsync_dagster.benchling.pacing import RATE_WINDOW_SECONDS
from benchsync_dagster.defs.liveness.resources import RunHeartbeat
from benchsync_dagster.defs.resources import BenchlingResource, PostgresResource, SyncSettings
from benchsync_dagster.defs.step_retries import retried_when_benchling_fails
from benchsync_dagster.defs.typed.assets import log_typed_writes
from benchsync_dagster.defs.typed.checks import log_typed_table_problems
from benchsync_dagster.defs.upstream import GROUP, benchling_registry
from benchsync_dagster.listed_writes import store_listed
from benchsync_dagster.poll_deferral import YIELDS_TO_BURSTS_TAG, burst_waiting
from benchsync_dagster.storage import app_configuration, poll_watermarks
from benchsync_dagster.typed.write import Describe, TableWrite, merged, unmatched_schemas

# The table it writes, downstream of it (its asset is defined by the sync).
SNAPSHOTS = dg.AssetKey("benchling_entity_snapshots")


@dg.asset(
    # Upstream of the tables it writes (benchling_entity_snapshots depends on it).
    deps=[benchling_registry],
    group_name=GROUP,
    kinds={"benchling", "postgres"},
)
@retried_when_benchling_fails
def registry_poll(
    context: dg.AssetExecutionContext,
    benchling: BenchlingResource,
    postgres: PostgresResource,
    sync_settings: SyncSettings,
    run_heartbeat: RunHeartbeat,
) -> dg.MaterializeResult[Any]:
    """Lists each type's entities changed since its watermark (minus a few minutes, for clock
    ties) and stores the newer ones: snapshots of every mirrored schema, and the rows of the
    configured one in ``synced_benchling_data``. One page (≤ 100) in memory at a time. While a
    burst of webhook events waits in the inbox, a type's listing stops after a full page and the
    next poll goes on from the watermark; a poll ``poll_sensor`` tags as yielding to bursts
    does not begin a type then (``poll_deferral``). A type whose listing or storing fails
    stops there (its watermark where its last stored page left it); the others are polled all
    the same, and the run then fails naming it. A schema whose typed table Postgres refuses stops
    nothing: its snapshots are stored, and ``typed_tables_complete`` fails naming it."""
    source = f"poll:{context.run.run_id}"
    yields = context.run.tags.get(YIELDS_TO_BURSTS_TAG) == "true"
    mirrored = sync_settings.mirrored_schemas()
    listed: dict[str, int] = {}
    deferred: list[str] = []
    failed: dict[str, str] = {}  # entity type → why its listing stopped
    written = 0
    typed: list[TableWrite] = []
    with postgres.session() as connection:
        marks = poll_watermarks.watermarks(connection)
        for entity_type in KINDS:
            listed[entity_type] = 0
            try:
                page_count, page_typed, was_deferred = _poll_type(
                    connection,
                    benchling,
                    entity_type,
                    marks.get(entity_type),
                    mirrored,
                    source,
                    listed,
                    yields,
                )
            except Exception as error:
                if is_outage(error) or connection.broken:
                    raise  # Benchling or the database is down, not this type: retried whole
                # One type's failure keeps neither the other types nor their watermarks back.
                failed[entity_type] = f"{type(error).__name__}: {error}"
                context.log.error(
                    f"polling {entity_type} failed after {listed[entity_type]} listed; its"
                    f" watermark stays where its last stored page left it: {failed[entity_type]}"
                )
                continue
            written += page_count
            typed += page_typed
            if was_deferred:
                deferred.append(entity_type)
    if deferred:
        context.log.info(
            f"a burst of webhook events waits in the inbox: the poll leaves the rest of"
            f" {', '.join(deferred)} to its next run, from the watermark"
        )
    if written:
        # The table changed outside a sync run: say so on its own timeline too.
        context.log_event(
            dg.AssetMaterialization(
                asset_key=SNAPSHOTS,
                description=f"written by poll run {context.run.run_id}",
                metadata={"rows_written": written},
            )
        )
    log_typed_writes(context, merged(typed))
    typed_problems = log_typed_table_problems(context, postgres)
    stats = benchling.call_stats
    budget = benchling.rate_limit * sync_settings.poll_interval_seconds / RATE_WINDOW_SECONDS
    metadata: dict[str, Any] = {
        "listed_by_type": dg.MetadataValue.json(listed),
        "types_deferred_to_next_poll": dg.MetadataValue.json(deferred),
        "types_failed": dg.MetadataValue.json(failed),
        "typed_table_problems": dg.MetadataValue.json(typed_problems),
        "snapshots_written": written,
        "benchling_requests": stats.requests,
        # What one poll costs of the requests the rate limit allows between two polls.
        "share_of_rate_budget": round(stats.requests / budget, 4),
    }
    if failed:
        # After every other type was listed and stored: the run fails, naming each type.
        raise dg.Failure(
            description="the poll could not list or store "
            + "; ".join(f"{entity_type} ({error})" for entity_type, error in failed.items()),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


def _poll_type(
    connection: psycopg.Connection[Any],
    benchling: BenchlingResource,
    entity_type: str,
    since: datetime | None,
    mirrored: frozenset[str] | None,
    source: str,
    listed: dict[str, int],
    yields: bool,
) -> tuple[int, list[TableWrite], bool]:
    """List one type since its watermark, each page stored (and the watermark moved) in its
    own transaction, counting what it lists in ``listed``; returns the snapshots written, the
    typed writes, and whether a waiting burst stopped it (else it is noted listed to its end).
    A poll that ``yields`` does not begin the type while a burst waits."""
    if yields and burst_waiting(connection):
        return 0, [], True
    began = app_configuration.database_now(connection)
    written, typed = 0, []
    overlapped = since - WATERMARK_OVERLAP if since else None
    filters = ListFilters(modified_after=overlapped)
    pages = listing.listed(benchling.client, KINDS[entity_type], filters)
    for documents in pages:
        listed[entity_type] += len(documents)
        page_written, page_typed = _store(
            connection, entity_type, documents, mirrored, source, benchling.describe_schema
        )
        written += page_written
        typed += page_typed
        if len(documents) == BULK_GET_LIMIT and burst_waiting(connection):
            return written, typed, True
    poll_watermarks.note_listed_to_the_end(connection, entity_type, began)
    return written, typed, False


def _store(
    connection: psycopg.Connection[Any],
    entity_type: str,
    documents: list[dict[str, Any]],
    mirrored: frozenset[str] | None,
    source: str,
    describe: Describe,
) -> tuple[int, list[TableWrite]]:
    """One page: its snapshots and synced rows written, and the type's watermark moved to its
    newest ``modifiedAt`` (pages come oldest first), in one transaction (the schemas it needs
    described, before it)."""
    kept = mapping.to_mirror(documents, mirrored)
    sources = {document["id"]: source for document in kept}
    described = {
        schema_id: describe(schema_id) for schema_id in unmatched_schemas(connection, kept)
    }
    with connection.transaction():
        stored = store_listed(
            connection, kept, sources, dict.fromkeys(sources, entity_type), described
        )
        if kept:
            newest: datetime = pd.Timestamp(kept[-1]["modifiedAt"]).to_pydatetime()
            poll_watermarks.advance(connection, entity_type, newest)
    return stored

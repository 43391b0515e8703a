"""A sync run's cost as the tables grow: flat from 10^4 to 10^6 stored rows, or not.

For each size, the snapshot and synced tables are filled with that many rows (small filler
documents of another schema, written by SQL), then --runs sync runs each sync --batch freshly
registered entities from the emulator (in process: ``sync_job.execute_in_process``, the
emulator over HTTP). Reported per size: the median run's wall time, the median time of the
statements that give the run its metadata and checks, and what the whole-table statements
every run made before migration 0011 cost at that size.

    BENCHSYNC_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/per_run_cost.py --sizes 10000 100000 1000000

The database named is used as a server: a scratch database is made beside it and dropped.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import dagster as dg
import psycopg
from scratch import scratch_database

from benchling_emulator.server import EmulatorServer
from benchling_emulator.settings import EmulatorSettings
from benchsync_dagster.definitions import build_definitions
from benchsync_dagster.defs.resources import BenchlingResource, PostgresResource, SyncSettings
from benchsync_dagster.defs.typed.sensors import DagsterWebserver
from benchsync_dagster.storage import snapshots, synced_data

FILL_CHUNK_ROWS = 100_000


def fill_to(database_url: str, rows: int) -> None:
    """Filler rows until both tables hold ``rows`` (entities of a schema nobody syncs)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        have = snapshots.row_count(connection)
        while have < rows:
            upto = min(rows, have + FILL_CHUNK_ROWS)
            for statement in (
                "INSERT INTO benchling_entity_snapshots"
                " (entity_id, entity_type, schema_id, modified_at, archived, document)"
                " SELECT 'bfi_fill' || n, 'custom_entity', 'ts_filler', now(), false,"
                "   jsonb_build_object('id', 'bfi_fill' || n, 'name', 'filler ' || n)"
                " FROM generate_series(%s + 1, %s) AS n",
                "INSERT INTO synced_benchling_data (benchling_api_id, entity_name, schema_id,"
                "   modified_at)"
                " SELECT 'bfi_fill' || n, 'filler ' || n, 'ts_filler', now()"
                " FROM generate_series(%s + 1, %s) AS n",
            ):
                connection.execute(statement, (have, upto))
            have = upto
        connection.execute("ANALYZE benchling_entity_snapshots")
        connection.execute("ANALYZE synced_benchling_data")


def metadata_seconds(database_url: str, entity_ids: list[str], schema_id: str) -> float:
    """The statements a run's metadata and one_row_per_entity check run, timed together."""
    with psycopg.connect(database_url) as connection:
        started = time.perf_counter()
        snapshots.row_count(connection)
        synced_data.row_count(connection)
        synced_data.preview(connection, entity_ids)
        synced_data.duplicate_ids(connection, entity_ids)
        synced_data.snapshots_without_row(connection, entity_ids, schema_id)
        return time.perf_counter() - started


# What each run asked before migration 0011: whole-table counts, a whole-table GROUP BY for
# the duplicates check, and a preview sorted over the whole table.
FULL_TABLE_STATEMENTS = (
    "SELECT count(*) FROM benchling_entity_snapshots",
    "SELECT count(*) FROM synced_benchling_data",
    "SELECT benchling_api_id FROM synced_benchling_data ORDER BY synced_datetime DESC LIMIT 10",
    "SELECT count(*) FROM (SELECT benchling_api_id FROM synced_benchling_data"
    " GROUP BY benchling_api_id HAVING count(*) > 1) AS duplicated",
    "SELECT count(*) FROM benchling_entity_snapshots AS snapshot"
    " WHERE snapshot.schema_id IN (SELECT DISTINCT schema_id FROM synced_benchling_data)"
    " AND NOT EXISTS (SELECT 1 FROM synced_benchling_data AS row"
    " WHERE row.benchling_api_id = snapshot.entity_id)",
)


def full_table_seconds(database_url: str) -> float:
    with psycopg.connect(database_url) as connection:
        started = time.perf_counter()
        for statement in FULL_TABLE_STATEMENTS:
            connection.execute(statement).fetchall()
        return time.perf_counter() - started


def definitions(database_url: str, emulator: EmulatorServer) -> dg.Definitions:
    postgres = PostgresResource(database_url=database_url)
    settings = emulator.settings
    return build_definitions(
        {
            "postgres": postgres,
            "benchling": BenchlingResource(
                postgres=postgres,
                tenant_url=emulator.base_url,
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                app_id=settings.app_id,
                rate_limit=settings.rate_limit,
            ),
            "sync_settings": SyncSettings(),
            "dagster_webserver": DagsterWebserver(),
        }
    )


def measure(database_url: str, sizes: list[int], runs: int, batch: int) -> None:
    emulator = EmulatorServer(EmulatorSettings(port=0, rate_limit=100_000))
    try:
        job = definitions(database_url, emulator).resolve_job_def("sync_job")
        instance = dg.DagsterInstance.ephemeral()
        print(f"{runs} sync runs of {batch} entities per size; medians")
        print("stored rows | run wall s | metadata+check ms | before 0011: same, ms")
        for size in sizes:
            fill_to(database_url, size)
            walls, metadata = [], []
            for _ in range(runs):
                entity_ids = emulator.tenant.create_registered(batch)
                config: dict[str, Any] = {"webhook_ids": [], "entity_ids": entity_ids}
                started = time.perf_counter()
                result = job.execute_in_process(
                    run_config={
                        "ops": {
                            "benchling_entity_snapshots": {"config": config},
                            "synced_benchling_data": {"config": config},
                        }
                    },
                    instance=instance,
                )
                walls.append(time.perf_counter() - started)
                assert result.success
                schema_id = emulator.tenant.get_entity(entity_ids[0])["schema"]["id"]
                metadata.append(metadata_seconds(database_url, entity_ids, schema_id))
            print(
                f"{size:>11,} | {statistics.median(walls):10.2f} |"
                f" {statistics.median(metadata) * 1000:17.1f} |"
                f" {full_table_seconds(database_url) * 1000:21.1f}"
            )
    finally:
        emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with scratch_database() as database_url:
        measure(database_url, sorted(args.sizes), args.runs, args.batch)


if __name__ == "__main__":
    main()

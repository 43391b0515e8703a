"""Peak memory of one sync run over large documents: --entities DNA sequences of --bases bases
each (2,000 of a megabase: about 2 GB of documents), registered in the emulator, their
``v2.entity.registered`` events recorded in the inbox, then one batch of them synced by
``sync_job`` in a process of its own (as the run launcher starts one), configured from the
environment as a deployment is. The report gives the run process's peak RSS (VmHWM), the time,
and checks every entity has its snapshot and its typed row.

    .venv/bin/python benchmarks/sync_memory.py                          # 2,000 of 1,000,000 bases
    .venv/bin/python benchmarks/sync_memory.py --entities 200 --bases 10000000

BENCHSYNC_DATABASE_URL names the Postgres server to use (default the local one at
127.0.0.1:5432); a database ``benchsync_sync_memory`` (--database) is made afresh there.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg
import psycopg
from child_process import peak_rss_kib, run_child
from psycopg import sql

from benchsync_dagster.batch_runs import batch_run_config
from benchsync_dagster.definitions import defs
from benchsync_dagster.storage import typed_tables
from webhook_sensor_bridge import inbox

if TYPE_CHECKING:
    from benchling_emulator.server import EmulatorServer

DATABASE = "benchsync_sync_memory"


def run_sync(webhook_ids: list[str]) -> None:
    """The child: one sync run of these events, configured from the environment."""
    job = defs().resolve_job_def("sync_job")
    started = time.monotonic()
    result = job.execute_in_process(
        run_config=batch_run_config(webhook_ids, None),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    seconds = time.monotonic() - started
    metadata = {
        m.asset_key.to_user_string(): {k: v.value for k, v in m.metadata.items()}
        for node in ("benchling_entity_snapshots", "synced_benchling_data")
        for m in result.asset_materializations_for_node(node)
    }
    snapshot_step = metadata.get("benchling_entity_snapshots", {})
    failures = [
        event.step_failure_data.error.message.strip()
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error
    ]
    print(
        json.dumps(
            {
                "success": result.success,
                "failure": failures[0][:300] if failures else None,
                "seconds": seconds,
                "peak_rss_mib": peak_rss_kib() / 1024,
                "snapshots_written": snapshot_step.get("rows_written", 0),
                "writes": snapshot_step.get("writes", 1),
                "events_settled": metadata.get("synced_benchling_data", {}).get(
                    "events_settled", 0
                ),
                "requests": snapshot_step.get("benchling_requests", 0),
            }
        )
    )


def _register_sequences(emulator: EmulatorServer, entities: int, bases: int) -> list[str]:
    """``entities`` registered DNA sequences of the seeded schema, each of ``bases`` bases (one
    string shared by all in the emulator, which renders each apart)."""
    from benchling_emulator.entity_types import ENTITY_TYPES  # the parent's alone, as below

    dna = ENTITY_TYPES["dna_sequence"]
    tenant = emulator.tenant
    schema = tenant.seed.schema_of_type(dna.name)
    long_bases = "".join(random.Random(1).choices("ACGT", k=bases))
    ids = tenant.create_registered_of_schema(entities, schema.id)
    for entity_id in ids:
        tenant.update_entity(entity_id, {"bases": long_bases, "isCircular": False}, dna)
    return ids


def _record_events(database_url: str, entity_ids: list[str], schema_id: str) -> list[str]:
    """A ``v2.entity.registered`` event per entity in the inbox, as the bridge records them."""
    webhook_ids = [f"msg_memory_{number}" for number in range(len(entity_ids))]
    with psycopg.connect(database_url) as connection:
        for webhook_id, entity_id in zip(webhook_ids, entity_ids, strict=True):
            inbox.record(
                connection,
                inbox.InboxEvent(
                    webhook_id=webhook_id,
                    message_type="v2.entity.registered",
                    channel="events",
                    message_id=f"evt_{webhook_id}",
                    resource_id=entity_id,
                    schema_id=schema_id,
                    app_id=None,
                    app_definition_id=None,
                    tenant_id=None,
                    base_url=None,
                    created_at=datetime.now(UTC),
                    body="{}",
                    ignored_reason=None,
                ),
            )
    return webhook_ids


def measure(entities: int, bases: int, max_batch_bytes: str | None, database: str) -> None:
    # Imported here, not at the top: the child, whose peak is measured, loads what a run worker
    # does, not the emulator nor the migrations.
    from scratch import fresh_database

    from benchling_emulator.server import EmulatorServer
    from benchling_emulator.settings import EmulatorSettings

    server_url = os.environ.get("BENCHSYNC_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432")
    database_url = fresh_database(server_url, database)
    settings = EmulatorSettings(port=0, rate_limit=6000, seed=1)
    with EmulatorServer(settings) as emulator:
        started = time.monotonic()
        entity_ids = _register_sequences(emulator, entities, bases)
        schema_id = emulator.tenant.seed.schema_of_type("dna_sequence").id
        webhook_ids = _record_events(database_url, entity_ids, schema_id)
        print(
            f"emulator: {entities:,} DNA sequences of {bases:,} bases made and their events"
            f" recorded in {time.monotonic() - started:.0f} s"
        )
        report = run_child(
            __file__,
            "--run-sync",
            {
                **emulator.environment(),
                "BENCHSYNC_DATABASE_URL": database_url,
                "BENCHSYNC_BENCHLING_RATE_LIMIT": str(settings.rate_limit),
                **({"BENCHSYNC_MAX_BATCH_BYTES": max_batch_bytes} if max_batch_bytes else {}),
            },
            stdin=json.dumps(webhook_ids),
        )
    with psycopg.connect(database_url) as connection:
        (stored,) = connection.execute(
            "SELECT count(*) FROM benchling_entity_snapshots WHERE entity_id = ANY(%s)"
            " AND (document ->> 'length')::bigint = %s",
            [entity_ids, bases],
        ).fetchone() or (0,)
        table = typed_tables.load(connection, [schema_id]).get(schema_id)
        (typed,) = (
            connection.execute(
                sql.SQL("SELECT count(*) FROM benchling.{} WHERE id = ANY(%s)").format(
                    sql.Identifier(table.table_name)
                ),
                [entity_ids],
            ).fetchone()
            if table
            else None
        ) or (0,)
    gigabytes = entities * bases / 1e9
    print(f"sync run: {entities:,} events, about {gigabytes:.1f} GB of documents")
    print(
        f"  {report['seconds']:.0f} s, {report['requests']} Benchling requests;"
        f" {report['snapshots_written']:,} snapshots written in {report['writes']} writes,"
        f" {report['events_settled']:,} events settled; {stored:,} full snapshots stored,"
        f" {typed:,} typed rows"
    )
    if not report["success"]:
        print(f"  the run failed: {report['failure']}")
    print(f"  peak RSS of the run's process: {report['peak_rss_mib']:.0f} MiB")
    if not report["success"] or stored != entities or typed != entities:
        sys.exit("the sync run is incomplete")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=2000)
    parser.add_argument("--bases", type=int, default=1_000_000, help="bases per sequence")
    parser.add_argument(
        "--max-batch-bytes", default=None, help="BENCHSYNC_MAX_BATCH_BYTES for the run"
    )
    parser.add_argument("--database", default=DATABASE, help="made afresh on the server")
    parser.add_argument("--run-sync", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_sync:
        run_sync(json.loads(sys.stdin.read()))
    else:
        measure(args.entities, args.bases, args.max_batch_bytes, args.database)


if __name__ == "__main__":
    main()

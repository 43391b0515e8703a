"""The initial load of an existing tenant: --entities (100,000) across the eight entity types in
the emulator, mirrored from an empty database by a full reconciliation (``reconciliation_job``,
``full: true``, in a process of its own), against the bound the rate limit and the page size
allow.

The bound: the run makes N requests (one list call per page of ≤ 100 entities, per type, and a
few for the App configuration); a sliding window of L requests per 30 s lets them all go in
floor((N - 1) / L) * 30 s at best. The report gives the time, the ratio to that bound, the run
process's peak RSS, and checks every entity has its snapshot.

    .venv/bin/python benchmarks/initial_load.py                       # 100,000 entities, 60/30 s
    .venv/bin/python benchmarks/initial_load.py --entities 20000 --rate-limit 300

BENCHSYNC_DATABASE_URL names the Postgres server to use (default the local one at
127.0.0.1:5432); a database ``benchsync_initial_load`` is made afresh there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import dagster as dg
import psycopg
from child_process import peak_rss_kib, run_child
from scratch import fresh_database

from benchling_emulator.entity_types import ENTITY_TYPES
from benchling_emulator.server import EmulatorServer
from benchling_emulator.settings import EmulatorSettings
from benchsync_dagster.definitions import defs

DATABASE = "benchsync_initial_load"
WINDOW_SECONDS = 30


def run_reconciliation() -> None:
    """The child: one full reconciliation, configured from the environment as a deployment is."""
    job = defs().resolve_job_def("reconciliation_job")
    started = time.monotonic()
    result = job.execute_in_process(
        run_config={"ops": {"registry_reconciliation": {"config": {"full": True}}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    seconds = time.monotonic() - started
    (materialization,) = [
        m
        for m in result.asset_materializations_for_node("registry_reconciliation")
        if m.asset_key == dg.AssetKey("registry_reconciliation")
    ]
    print(
        json.dumps(
            {
                "success": result.success,
                "seconds": seconds,
                "peak_rss_mib": peak_rss_kib() / 1024,
                "listed": materialization.metadata["listed"].value,
                "requests": materialization.metadata["benchling_requests"].value,
            }
        )
    )


def measure(entities: int, rate_limit: int) -> None:
    server_url = os.environ.get("BENCHSYNC_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432")
    database_url = fresh_database(server_url, DATABASE)
    settings = EmulatorSettings(port=0, rate_limit=rate_limit, seed=1)
    with EmulatorServer(settings) as emulator:
        started = time.monotonic()
        emulator.tenant.create_registered(entities, list(ENTITY_TYPES))
        made = time.monotonic() - started
        print(f"emulator: {entities:,} entities of 8 types made in {made:.0f} s")
        report = run_child(
            __file__,
            "--run-reconciliation",
            {
                **emulator.environment(),
                "BENCHSYNC_DATABASE_URL": database_url,
                "BENCHSYNC_BENCHLING_RATE_LIMIT": str(rate_limit),
            },
        )
    with psycopg.connect(database_url) as connection:
        by_type: dict[str, int] = dict(
            connection.execute(
                "SELECT entity_type, count(*) FROM benchling_entity_snapshots GROUP BY entity_type"
            ).fetchall()
        )
    bound = (report["requests"] - 1) // rate_limit * WINDOW_SECONDS
    print(f"full reconciliation: {report['listed']:,} listed, {sum(by_type.values()):,} stored")
    print(f"  by type: {json.dumps(by_type, sort_keys=True)}")
    print(f"  {report['requests']:,} requests at {rate_limit} per {WINDOW_SECONDS} s")
    print(
        f"  {report['seconds']:.0f} s against a bound of {bound} s:"
        f" {report['seconds'] / bound:.2f} x the bound"
        if bound
        else f"  {report['seconds']:.1f} s (within one rate window)"
    )
    print(f"  peak RSS of the run's process: {report['peak_rss_mib']:.0f} MiB")
    if not report["success"] or sum(by_type.values()) != entities:
        sys.exit("the initial load is incomplete")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--rate-limit", type=int, default=60, help="requests per 30 s")
    parser.add_argument("--run-reconciliation", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_reconciliation:
        run_reconciliation()
    else:
        measure(args.entities, args.rate_limit)


if __name__ == "__main__":
    main()

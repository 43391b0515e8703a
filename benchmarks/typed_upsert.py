"""Typed-table upserts against the raw-snapshot upsert, for the same batches of documents.

Documents are the emulator's custom entities of the seeded schema (ten field types, one of them
multi-valued), rendered as Benchling's API gives them. Each round writes --batch new entities,
then the same entities again with a newer modifiedAt (the update path), into a fresh database.

    BENCHSYNC_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/typed_upsert.py --batch 1000 --rounds 10

The database named is used as a server: a scratch database is made beside it and dropped.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import psycopg
from scratch import edited, entity_documents, scratch_database

from benchling_emulator.clock import TenantClock
from benchling_emulator.seed import seeded_tenant
from benchsync_dagster import mapping
from benchsync_dagster.storage import snapshots
from benchsync_dagster.typed.catalog import SchemaDefinition, SchemaField
from benchsync_dagster.typed.write import write_typed


def _timed(write: Callable[[], object]) -> float:
    started = time.perf_counter()
    write()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    options = parser.parse_args()
    with scratch_database() as url:
        documents = entity_documents(options.batch * options.rounds)
        seed = seeded_tenant(TenantClock()).schema
        definition = SchemaDefinition(
            seed.id,
            seed.name,
            "custom_entity",
            tuple(SchemaField(f.id, f.name, f.type, f.is_multi) for f in seed.fields),
        )
        described = {seed.id: definition}
        raw = typed = 0.0
        with psycopg.connect(url) as connection:
            with connection.transaction():  # the table made before timing begins
                write_typed(connection, documents[:1], {}, {}, described)
            for round_number in range(options.rounds):
                batch = documents[round_number * options.batch : (round_number + 1) * options.batch]
                for shown in (batch, edited(batch, 60)):
                    with connection.transaction():
                        raw += _timed(
                            lambda shown=shown: snapshots.upsert(  # type: ignore[misc]
                                connection, mapping.snapshot_frame(shown, {}, {})
                            )
                        )
                        typed += _timed(
                            lambda shown=shown: write_typed(  # type: ignore[misc]
                                connection, shown, {}, {}, described
                            )
                        )
        rows = 2 * options.batch * options.rounds
        print(
            f"rows written per table: {rows}"
            f" ({options.rounds} rounds of {options.batch} new, then updated)"
        )
        print(f"raw snapshot upsert (frame + SQL): {rows / raw:,.0f} rows/s")
        print(f"typed upsert (rows + SQL):         {rows / typed:,.0f} rows/s")
        print(f"typed / raw:                       {raw / typed:.2f}x")


if __name__ == "__main__":
    main()

"""A sync run holds its documents by bytes, not by count: it writes what it fetched each time
the documents reach its budget (BENCHSYNC_MAX_BATCH_BYTES), and reads back only what rows need.
Peak memory itself is measured in benchmarks/sync_memory.py."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import dagster as dg
import psycopg
from psycopg import sql

from benchling_emulator.entity_types import ENTITY_TYPES
from benchsync_dagster.batch_runs import batch_run_config
from benchsync_dagster.benchling.fetch import document_bytes
from benchsync_dagster.defs.resources import SyncSettings
from benchsync_dagster.storage import snapshots, synced_data, typed_tables
from tests.support.dagster import materialization_of
from tests.support.tenant import (
    Tenant,
    entities_in_inbox,
    inbox_states,
    pending_webhook_ids,
    register,
)

DNA = ENTITY_TYPES["dna_sequence"]
PLASMIDS = "ts_emuPlasmid"  # the emulator's seeded DNA sequence schema


def lengthen(tenant: Tenant, entity_ids: list[str], bases: int, timeout: float = 30.0) -> None:
    """Give these registered DNA sequences ``bases`` bases each; returns once the inbox holds
    the edits' webhooks (each entity's second)."""
    long_bases = "".join(random.Random(3).choices("ACGT", k=bases))
    for entity_id in entity_ids:
        tenant.emulator.tenant.update_entity(
            entity_id, {"bases": long_bases, "isCircular": False}, DNA
        )
    deadline = time.monotonic() + timeout
    while entities_in_inbox(tenant.database_url, entity_ids) < 2 * len(entity_ids):
        assert time.monotonic() < deadline, "the edits' webhooks never reached the inbox"
        time.sleep(0.05)


def run_with_budget(tenant: Tenant, max_batch_bytes: int) -> dg.ExecuteInProcessResult:
    definitions = tenant.definitions(sync_settings=SyncSettings(max_batch_bytes=max_batch_bytes))
    result: dg.ExecuteInProcessResult = definitions.resolve_job_def("sync_job").execute_in_process(
        run_config=batch_run_config(pending_webhook_ids(tenant.database_url), None),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return result


def stored_lengths(db: psycopg.Connection[Any], entity_ids: list[str]) -> dict[str, int]:
    rows = db.execute(
        "SELECT entity_id, length(document ->> 'bases') FROM benchling_entity_snapshots"
        " WHERE entity_id = ANY(%s)",
        [entity_ids],
    ).fetchall()
    return dict(rows)


def typed_ids(db: psycopg.Connection[Any], entity_ids: list[str]) -> set[str]:
    """Those of these DNA sequences with a row in their schema's typed table."""
    (table,) = typed_tables.load(db, [PLASMIDS]).values()
    rows = db.execute(
        sql.SQL("SELECT id FROM benchling.{} WHERE id = ANY(%s)").format(
            sql.Identifier(table.table_name)
        ),
        [entity_ids],
    ).fetchall()
    return {entity_id for (entity_id,) in rows}


def bulk_gets_of_dna(tenant: Tenant) -> list[object]:
    return [
        logged
        for logged in tenant.emulator.stats.request_log()
        if logged.route == "GET /api/v2/dna-sequences:bulk-get"
    ]


def test_a_batch_over_the_byte_budget_is_written_in_several_goes_and_all_of_it_lands(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    sequences = register(tenant, 30, types=["dna_sequence"])
    custom = register(tenant, 5)
    lengthen(tenant, sequences, 20_000)

    # After a first call for 10, two sequences per call, and two per write.
    result = run_with_budget(tenant, max_batch_bytes=90_000)

    assert result.success
    snapshot_step = materialization_of(result, "benchling_entity_snapshots").metadata
    writes = snapshot_step["writes"].value
    assert isinstance(writes, int) and writes >= 15
    assert snapshot_step["rows_written"].value == 35
    assert snapshot_step["entities_fetched"].value == 35
    assert stored_lengths(db, sequences) == dict.fromkeys(sequences, 20_000)
    assert typed_ids(db, sequences) == set(sequences)
    assert {row[0] for row in db.execute("SELECT benchling_api_id FROM synced_benchling_data")} == (
        set(custom)
    )
    assert inbox_states(tenant.database_url) == {"synced": 30 + 5 + 30}
    assert len(bulk_gets_of_dna(tenant)) >= 11


def test_documents_each_over_the_whole_budget_are_fetched_and_written_one_at_a_time(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    sequences = register(tenant, 12, types=["dna_sequence"])
    lengthen(tenant, sequences, 30_000)

    result = run_with_budget(tenant, max_batch_bytes=10_000)

    assert result.success
    # The first call asks for 10 (their size unknown), then one per call; each written alone.
    writes = materialization_of(result, "benchling_entity_snapshots").metadata["writes"].value
    assert writes == 12
    assert len(bulk_gets_of_dna(tenant)) == 3
    assert stored_lengths(db, sequences) == dict.fromkeys(sequences, 30_000)
    assert typed_ids(db, sequences) == set(sequences)
    assert inbox_states(tenant.database_url) == {"synced": 24}


def test_rows_are_made_from_the_stored_documents_without_their_sequences(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    (sequence,) = register(tenant, 1, types=["dna_sequence"])
    assert run_with_budget(tenant, max_batch_bytes=1_000_000).success

    with db.transaction():
        (chunk,) = snapshots.stored_of_schema(db, PLASMIDS, 10)

    (stored,) = chunk
    assert set(stored.document) == set(snapshots.ROW_KEYS)
    assert stored.document["id"] == sequence


def test_a_runs_preview_cuts_long_values(db: psycopg.Connection[Any]) -> None:
    db.execute(
        "INSERT INTO synced_benchling_data (benchling_api_id, entity_name, field_value,"
        " modified_at) VALUES ('bfi_long', %s, %s, now())",
        ["n" * 100_000, "v" * 1_000_000],
    )

    preview = synced_data.preview(db, ["bfi_long"])

    assert len(preview["entity_name"][0]) == synced_data.PREVIEW_CHARACTERS
    assert len(preview["field_value"][0]) == synced_data.PREVIEW_CHARACTERS


def test_a_documents_size_is_about_its_json() -> None:
    document = {"id": "seq_1", "bases": "ACGT" * 1000, "fields": {"n": {"value": 1.5}}, "a": [1]}

    assert 0.8 < document_bytes(document) / len(json.dumps(document)) < 1.5

"""The incremental poll: what sends no event (an AA sequence edited, a custom entity archived)
is mirrored after one poll; a poll when nothing changed costs a few list calls."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg
from benchling_sdk.models import AaSequenceUpdate, EntityArchiveReason

from benchsync.status import read_status, status_document
from benchsync_core.kinds import KINDS
from tests.support.dagster import materialization_of, run_batch
from tests.support.emulator import benchling_client
from tests.support.tenant import Tenant, pending_webhook_ids, register


def poll(tenant: Tenant) -> dg.ExecuteInProcessResult:
    job = tenant.definitions().resolve_job_def("poll_job")
    result: dg.ExecuteInProcessResult = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert result.success
    return result


def poll_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    materialization = materialization_of(result, "registry_poll")
    return {key: value.value for key, value in materialization.metadata.items()}


def test_an_edit_and_an_archive_that_send_no_event_are_mirrored_after_one_poll(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    custom, protein = register(tenant, 2, types=["custom_entity", "aa_sequence"])
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success
    first = poll_metadata(poll(tenant))
    benchling = benchling_client(tenant.emulator)
    benchling.aa_sequences.update(protein, AaSequenceUpdate(amino_acids="MKTAYIAKQR"))
    benchling.custom_entities.archive([custom], EntityArchiveReason.RETIRED)
    assert pending_webhook_ids(tenant.database_url) == []  # Benchling said nothing

    second = poll_metadata(poll(tenant))

    documents = dict(
        db.execute("SELECT entity_id, document FROM benchling_entity_snapshots").fetchall()
    )
    assert documents[protein]["aminoAcids"] == "MKTAYIAKQR"
    assert documents[custom]["archiveRecord"] == {"reason": "Retired"}
    row = db.execute(
        "SELECT archived, archive_reason FROM synced_benchling_data WHERE benchling_api_id = %s",
        [custom],
    ).fetchone()
    assert row == (True, "Retired")
    assert first["listed_by_type"] == {
        **dict.fromkeys(first["listed_by_type"], 0),
        "custom_entity": 1,
        "aa_sequence": 1,
    }
    assert second["snapshots_written"] == 2


def test_a_poll_when_nothing_changed_costs_one_list_call_per_type(tenant: Tenant) -> None:
    register(tenant, 8, types=["custom_entity", "dna_sequence", "mixture", "molecule"])
    poll(tenant)

    quiet = poll_metadata(poll(tenant))

    # One page per type (the overlap relists the last few minutes' changes, stored already).
    assert quiet["snapshots_written"] == 0
    assert quiet["benchling_requests"] <= 8 + 1  # eight lists, and a token at most
    assert 0 < quiet["share_of_rate_budget"] < 0.05


def test_a_poll_notes_each_type_listed_to_its_end_and_status_shows_the_lag(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    register(tenant, 2, types=["dna_sequence", "molecule"])
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success
    before = status_document(read_status(db))["tables"]

    poll(tenant)

    listed_through = dict(
        db.execute("SELECT entity_type, polled_at FROM benchsync.poll_watermarks").fetchall()
    )
    assert set(listed_through) == set(KINDS)  # types with no entity too
    assert all(moment is not None for moment in listed_through.values())
    after = {table["entity_type"]: table for table in status_document(read_status(db))["tables"]}
    assert [table["lag_seconds"] for table in before] == [None, None]  # never listed
    assert set(after) == {"dna_sequence", "molecule"}
    assert all(0 <= table["lag_seconds"] < 60 for table in after.values())
    assert all(table["rows"] == 1 for table in after.values())


def test_a_poll_stops_paging_while_a_burst_waits_in_the_inbox_and_resumes_after(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    registered = register(tenant, 250)  # their webhooks wait in the inbox: a burst

    deferring = poll_metadata(poll(tenant))

    # One page of the burst (the sync's runs fetch the rest), and every other type in full.
    assert deferring["listed_by_type"]["custom_entity"] == 100
    assert deferring["types_deferred_to_next_poll"] == ["custom_entity"]
    listed_to_the_end = dict(
        db.execute("SELECT entity_type, polled_at FROM benchsync.poll_watermarks").fetchall()
    )
    assert listed_to_the_end.get("custom_entity") is None
    assert listed_to_the_end["molecule"] is not None
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success

    resumed = poll_metadata(poll(tenant))

    assert resumed["types_deferred_to_next_poll"] == []
    assert resumed["listed_by_type"]["custom_entity"] >= 150
    stored = db.execute(
        "SELECT count(*) FROM benchling_entity_snapshots WHERE entity_id = ANY(%s)", [registered]
    ).fetchone()
    assert stored == (250,)
    polled_at = db.execute(
        "SELECT polled_at FROM benchsync.poll_watermarks WHERE entity_type = 'custom_entity'"
    ).fetchone()
    assert polled_at is not None and polled_at[0] is not None

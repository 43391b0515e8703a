"""The reconciliation job against the emulator: it repairs what webhooks missed, and says so."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg
from benchling_sdk.models import AaSequenceUpdate, EntityArchiveReason

from benchsync.status import read_status, status_document
from benchsync_core.kinds import KINDS
from benchsync_dagster.defs.reconciliation.assets import VANISHED_REASON
from benchsync_dagster.defs.resources import SyncSettings
from tests.support.dagster import materialization_of, run_batch
from tests.support.emulator import benchling_client
from tests.support.tenant import Tenant, pending_webhook_ids, register


def reconcile(
    tenant: Tenant,
    full: bool = False,
    raise_on_error: bool = True,
    archive_vanished_of: tuple[str, ...] = (),
    **sync_settings: Any,
) -> dg.ExecuteInProcessResult:
    """A run of ``reconciliation_job``, with these ``SyncSettings`` fields."""
    definitions = tenant.definitions(sync_settings=SyncSettings(**sync_settings))
    config = {"full": full, "archive_vanished_of": list(archive_vanished_of)}
    result: dg.ExecuteInProcessResult = definitions.resolve_job_def(
        "reconciliation_job"
    ).execute_in_process(
        run_config={"ops": {"registry_reconciliation": {"config": config}}},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
    )
    return result


# These tests delete a third or a half of a type's few entities: past the guard's default share.
ANY_SHARE = 100


def drift_check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_drift"]
    return evaluation


def _synced(tenant: Tenant, count: int) -> list[str]:
    ids = register(tenant, count)
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success
    return ids


def test_repairs_a_deleted_row_a_stale_row_and_an_archived_entity(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    missing, stale, archived, *_ = _synced(tenant, 5)
    db.execute("DELETE FROM synced_benchling_data WHERE benchling_api_id = %s", [missing])
    db.execute(
        "UPDATE synced_benchling_data SET field_value = 'stale',"
        " modified_at = modified_at - interval '1 hour' WHERE benchling_api_id = %s",
        [stale],
    )
    benchling_client(tenant.emulator).custom_entities.archive(
        [archived], EntityArchiveReason.RETIRED
    )

    first = reconcile(tenant)

    assert first.success
    check = drift_check(first)
    assert not check.passed
    assert {k: v.value for k, v in check.metadata.items()} == {
        "rows_repaired": 3,
        "missing": 1,
        "stale": 1,
        "archived": 1,
        "vanished": 0,
        "reappeared": 0,
    }
    rows = {
        entity_id: (value, is_archived)
        for entity_id, value, is_archived in db.execute(
            "SELECT benchling_api_id, field_value, archived FROM synced_benchling_data"
        )
    }
    assert len(rows) == 5
    assert rows[stale][0] != "stale"
    assert rows[archived][1] is True

    reported = status_document(read_status(db))["last_reconciliation"]
    assert reported["drift"] == {
        "missing": 1,
        "stale": 1,
        "archived": 1,
        "vanished": 0,
        "reappeared": 0,
    }

    second = reconcile(tenant)

    assert drift_check(second).passed


def test_full_mode_marks_rows_of_vanished_entities_archived(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    gone, *_ = _synced(tenant, 3)
    tenant.control("delete", {"ids": [gone]})

    result = reconcile(tenant, full=True, reconcile_max_vanished_percent=ANY_SHARE)

    assert drift_check(result).metadata["vanished"].value == 1
    archived = db.execute(
        "SELECT benchling_api_id FROM synced_benchling_data WHERE archived"
    ).fetchall()
    assert archived == [(gone,)]
    assert reconcile(tenant, full=True, reconcile_max_vanished_percent=ANY_SHARE).success
    assert drift_check(
        reconcile(tenant, full=True, reconcile_max_vanished_percent=ANY_SHARE)
    ).passed


def test_a_vanished_entitys_row_stays_archived_when_its_batch_is_synced_again(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    ids = register(tenant, 2)
    batch = pending_webhook_ids(tenant.database_url)
    assert run_batch(tenant, batch).success
    tenant.control("delete", {"ids": [ids[0]]})
    reconcile(tenant, full=True, reconcile_max_vanished_percent=ANY_SHARE)

    # A re-execution from the UI (or a replay): the vanished entity now answers 404, and its
    # row is rebuilt from the stored snapshot, which must say archived too.
    assert run_batch(tenant, batch).success

    rows = dict(
        db.execute("SELECT benchling_api_id, archived FROM synced_benchling_data").fetchall()
    )
    assert rows == {ids[0]: True, ids[1]: False}


def test_the_watermark_moves_forward(tenant: Tenant, db: psycopg.Connection[Any]) -> None:
    _synced(tenant, 2)

    reconcile(tenant)

    watermark = db.execute("SELECT max(watermark_to) FROM benchsync.reconciliations").fetchone()
    assert watermark is not None and watermark[0] is not None
    latest = db.execute("SELECT max(modified_at) FROM synced_benchling_data").fetchone()
    assert latest is not None and watermark[0] == latest[0]


def test_a_full_reconciliation_across_types_marks_deleted_entities_vanished(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    ids = register(tenant, 16, types=list(KINDS))
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success
    types = dict(db.execute("SELECT entity_id, entity_type FROM benchling_entity_snapshots"))
    assert set(types.values()) == set(KINDS)
    dna = next(entity_id for entity_id in ids if types[entity_id] == "dna_sequence")
    molecule = next(entity_id for entity_id in ids if types[entity_id] == "molecule")
    custom = next(entity_id for entity_id in ids if types[entity_id] == "custom_entity")
    tenant.control("delete", {"ids": [dna, molecule, custom]})

    result = reconcile(tenant, full=True, reconcile_max_vanished_percent=ANY_SHARE)

    metadata = {key: value.value for key, value in drift_check(result).metadata.items()}
    assert metadata == {
        "rows_repaired": 3,
        "missing": 0,
        "stale": 0,
        "archived": 0,
        "vanished": 3,
        "reappeared": 0,
    }
    materialization = materialization_of(result, "registry_reconciliation")
    assert materialization.metadata["listed"].value == 13
    by_type: dict[str, dict[str, int]] = materialization.metadata["drift_by_type"].value  # type: ignore[assignment]
    assert {entity_type: drift["vanished"] for entity_type, drift in by_type.items()} == {
        "dna_sequence": 1,
        "molecule": 1,
        "custom_entity": 1,
    }
    archived = dict(
        db.execute(
            "SELECT entity_id, document -> 'archiveRecord' ->> 'reason'"
            " FROM benchling_entity_snapshots WHERE archived"
        ).fetchall()
    )
    assert archived == dict.fromkeys([dna, molecule, custom], VANISHED_REASON)
    assert db.execute(
        "SELECT benchling_api_id FROM synced_benchling_data WHERE archived"
    ).fetchall() == [(custom,)]
    assert db.execute("SELECT count(*) FROM benchling_entity_snapshots").fetchone() == (16,)
    assert status_document(read_status(db))["last_reconciliation"]["drift"]["vanished"] == 3
    assert drift_check(
        reconcile(tenant, full=True, reconcile_max_vanished_percent=ANY_SHARE)
    ).passed


def test_a_reconciliation_repairs_every_type_and_status_shows_each_schema(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    protein, mixture = register(tenant, 2, types=["aa_sequence", "mixture"])
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success
    db.execute("DELETE FROM benchling_entity_snapshots WHERE entity_id = %s", [mixture])
    benchling_client(tenant.emulator).aa_sequences.update(
        protein, AaSequenceUpdate(amino_acids="MKTAYIAKQR")
    )

    result = reconcile(tenant)

    metadata = {key: value.value for key, value in drift_check(result).metadata.items()}
    assert (metadata["missing"], metadata["stale"]) == (1, 1)
    document = db.execute(
        "SELECT document FROM benchling_entity_snapshots WHERE entity_id = %s", [protein]
    ).fetchone()
    assert document is not None and document[0]["aminoAcids"] == "MKTAYIAKQR"
    tables = {table["entity_type"]: table for table in status_document(read_status(db))["tables"]}
    assert set(tables) == {"aa_sequence", "mixture"}
    protein_table = tables["aa_sequence"]
    assert protein_table["rows"] == 1
    assert protein_table["schema_id"] and protein_table["schema_name"]
    assert protein_table["table"] == "benchling.emulated_protein$raw"
    assert protein_table["view"] == "benchling.emulated_protein"
    assert protein_table["newest_modified_at"] == document[0]["modifiedAt"].replace("Z", "+00:00")
    assert 0 <= protein_table["lag_seconds"] < 60
    assert drift_check(reconcile(tenant)).passed

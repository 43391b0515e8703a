"""Schemas past Postgres's limits (1,600 columns, a row over 8 kB, an integer past bigint) and a
type Benchling will not list: each stops only itself. The snapshots are stored, the other
schemas' typed tables and every other type's poll watermark move on, and what fell short is
named by a failed check (or, for a type, by the failed run)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg
import psycopg
from benchling_sdk.helpers.serialization_helpers import fields
from benchling_sdk.models import CustomEntityUpdate

from benchsync_dagster.defs.typed.checks import COMPLETE_CHECK
from benchsync_dagster.storage import typed_backfills
from benchsync_dagster.typed.columns import MAX_COLUMNS
from tests.support.dagster import materialization_of, run_batch
from tests.support.emulator import benchling_client
from tests.support.tenant import Tenant, inbox_states, pending_webhook_ids, register
from tests.sync.test_poll import poll
from tests.sync.test_reconciliation import reconcile
from tests.sync.test_typed_tables import backfill, define, typed_rows

ODD = "ts_odd"
HUGE = 2**70  # past bigint (2**63 - 1)


def _fields(count: int, field_type: str) -> list[dict[str, Any]]:
    return [{"id": f"tsf_odd_{i}", "name": f"F{i:04}", "type": field_type} for i in range(count)]


def _completeness(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation, *_) = [
        e for e in reversed(result.get_asset_check_evaluations()) if e.check_name == COMPLETE_CHECK
    ]
    return evaluation


def _watermarks(db: psycopg.Connection[Any]) -> dict[str, datetime]:
    rows = db.execute("SELECT entity_type, watermark FROM benchsync.poll_watermarks").fetchall()
    return {entity_type: watermark for entity_type, watermark in rows if watermark is not None}


def _snapshots(db: psycopg.Connection[Any], ids: list[str]) -> int:
    (count,) = db.execute(
        "SELECT count(*) FROM benchling_entity_snapshots WHERE entity_id = ANY(%s)", [ids]
    ).fetchone() or (0,)
    return int(count)


def _column_count(db: psycopg.Connection[Any], table: str) -> int:
    (count,) = db.execute(
        "SELECT count(*) FROM information_schema.columns"
        " WHERE table_schema = 'benchling' AND table_name = %s",
        [table],
    ).fetchone() or (0,)
    return int(count)


def _register_beside_others(tenant: Tenant) -> tuple[list[str], list[str], list[str]]:
    """Two entities of the odd schema, two of the ordinary one, one DNA sequence."""
    odd = register(tenant, 2, schema_id=ODD)
    ordinary = register(tenant, 2)
    dna = register(tenant, 1, types=["dna_sequence"])
    return odd, ordinary, dna


def _assert_the_others_went_on(
    tenant: Tenant, db: psycopg.Connection[Any], odd: list[str], ordinary: list[str], dna: list[str]
) -> None:
    assert _snapshots(db, [*odd, *ordinary, *dna]) == 5
    assert set(typed_rows(db, '"emulated_sample$raw"')) == set(ordinary)
    marks = _watermarks(db)
    assert {"custom_entity", "dna_sequence"} <= set(marks)
    (newest,) = db.execute(
        "SELECT max(modified_at) FROM benchling_entity_snapshots"
        " WHERE entity_type = 'custom_entity'"
    ).fetchone() or (None,)
    assert marks["custom_entity"] == newest


def test_a_schema_of_1700_fields_gets_the_columns_that_fit_and_stops_nothing(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    define(tenant, "Very Wide", _fields(1700, "boolean"), ODD)
    odd, ordinary, dna = _register_beside_others(tenant)

    result = poll(tenant)

    _assert_the_others_went_on(tenant, db, odd, ordinary, dna)
    assert _column_count(db, "very_wide$raw") == MAX_COLUMNS
    rows = typed_rows(db, '"very_wide$raw"')
    assert set(rows) == set(odd)
    shown = benchling_client(tenant.emulator).custom_entities.get_by_id(odd[0]).fields
    assert rows[odd[0]]["f0000"] == shown.additional_properties["F0000"].value
    check = _completeness(result)
    assert not check.passed
    assert ODD in (check.description or "") and "Very Wide" in (check.description or "")
    assert "have no column" in str(check.metadata["schemas"].value)
    # The sync of their events needs no halving: one run, every event synced.
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success
    assert set(inbox_states(tenant.database_url)) == {"synced"}


def test_a_schema_whose_fixed_width_row_passes_8_kb_gets_the_columns_that_fit(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    define(tenant, "Many Numbers", _fields(1100, "float"), ODD)
    odd, ordinary, dna = _register_beside_others(tenant)

    sync_result = run_batch(tenant, pending_webhook_ids(tenant.database_url))
    result = poll(tenant)

    assert sync_result.success
    assert set(inbox_states(tenant.database_url)) == {"synced"}
    _assert_the_others_went_on(tenant, db, odd, ordinary, dna)
    columns = _column_count(db, "many_numbers$raw")
    assert 800 < columns < 1100
    assert set(typed_rows(db, '"many_numbers$raw"')) == set(odd)
    for check in (_completeness(sync_result), _completeness(result)):
        assert not check.passed and "Many Numbers" in (check.description or "")


def test_an_integer_past_bigint_makes_its_column_numeric(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    define(tenant, "Big Counts", [{"id": "tsf_odd_count", "name": "Count", "type": "integer"}], ODD)
    odd, ordinary, dna = _register_beside_others(tenant)
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success
    benchling_client(tenant.emulator).custom_entities.update(
        odd[0], CustomEntityUpdate(fields=fields({"Count": {"value": HUGE}}))
    )

    result = poll(tenant)

    _assert_the_others_went_on(tenant, db, odd, ordinary, dna)
    rows = typed_rows(db, '"big_counts$raw"')
    assert rows[odd[0]]["count"] == HUGE
    assert rows[odd[1]]["count"] is not None  # the other entity's value, kept through the change
    assert db.execute(
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_schema = 'benchling' AND table_name = 'big_counts' AND column_name = 'count'"
    ).fetchone() == ("numeric",)  # the view too
    events = result.asset_materializations_for_node("registry_poll")
    (written,) = [e for e in events if e.asset_key == dg.AssetKey(["benchling", "big_counts"])]
    assert written.metadata["columns_made_numeric"].value == ["count"]
    assert _completeness(result).passed


def test_rows_postgres_refuses_are_named_by_the_check_and_filled_in_once_they_fit(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    # 700 text values of about 50 bytes: out of line each still leaves a pointer, 12 kB a row.
    define(tenant, "Long Notes", _fields(700, "long_text"), ODD)
    odd, ordinary, dna = _register_beside_others(tenant)

    result = poll(tenant)

    _assert_the_others_went_on(tenant, db, odd, ordinary, dna)
    assert typed_rows(db, '"long_notes$raw"') == {}
    check = _completeness(result)
    assert not check.passed
    assert "Long Notes" in (check.description or "") and "row is too big" in (
        check.description or ""
    )
    assert _completeness(reconcile(tenant, full=True)).passed is False  # the reconciliation too

    # An admin trims the schema; the next write is whole, and a backfill run fills the table
    # from the stored snapshots.
    define(tenant, "Long Notes", _fields(20, "long_text"), ODD)
    benchling_client(tenant.emulator).custom_entities.update(
        odd[0], CustomEntityUpdate(fields=fields({"F0000": {"value": "trimmed"}}))
    )
    repaired = poll(tenant)
    assert ODD in typed_backfills.due(db)
    backfill(tenant)

    rows = typed_rows(db, '"long_notes$raw"')
    assert set(rows) == set(odd) and rows[odd[0]]["f0000"] == "trimmed"
    assert _completeness(repaired).passed


def test_a_type_benchling_will_not_list_fails_the_poll_after_every_other_type(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    custom, protein, dna = register(
        tenant, 3, types=["custom_entity", "aa_sequence", "dna_sequence"]
    )
    tenant.control("faults", {"list_statuses": {"aa_sequence": 400}})
    job = tenant.definitions().resolve_job_def("poll_job")

    failed = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)

    assert not failed.success
    (failure,) = [e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    data = failure.step_failure_data
    assert data is not None and data.error is not None and data.user_failure_data is not None
    assert "aa_sequence" in data.error.message
    metadata = data.user_failure_data.metadata
    assert set(metadata["types_failed"].value) == {"aa_sequence"}  # type: ignore[arg-type]
    marks = _watermarks(db)
    assert {"custom_entity", "dna_sequence"} <= set(marks) and "aa_sequence" not in marks
    assert _snapshots(db, [custom, dna]) == 2 and _snapshots(db, [protein]) == 0

    tenant.control("faults", {"list_statuses": {}})
    assert materialization_of(poll(tenant), "registry_poll").metadata["types_failed"].value == {}
    assert _snapshots(db, [protein]) == 1 and "aa_sequence" in _watermarks(db)

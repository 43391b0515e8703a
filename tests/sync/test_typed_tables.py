"""Typed tables against Postgres and the emulator: every field type in its column, names made
safe, schemas that change while the sync runs, updates and archives reaching the typed rows."""

from __future__ import annotations

import time
from typing import Any

import dagster as dg
import httpx
import psycopg
from benchling_sdk.helpers.serialization_helpers import fields
from benchling_sdk.models import CustomEntityUpdate, EntityArchiveReason
from psycopg.rows import dict_row

from benchsync_dagster.definitions import build_definitions, catalogued_tables
from benchsync_dagster.defs.typed.assets import TYPE_CHECK
from tests.support.dagster import run_batch
from tests.support.emulator import benchling_client
from tests.support.tenant import Tenant, inbox_states, pending_webhook_ids, register
from tests.sync.test_poll import poll
from tests.sync.test_reconciliation import reconcile

SCHEMA_ID = "ts_typed"
OPTIONS = [{"id": "sfso_t_open", "name": "Open"}, {"id": "sfso_t_closed", "name": "Closed"}]
EVERY_TYPE: list[dict[str, Any]] = [
    {"id": "tsf_t_text", "name": "Label", "type": "text"},
    {"id": "tsf_t_long", "name": "Notes", "type": "long_text"},
    {"id": "tsf_t_int", "name": "Passage", "type": "integer"},
    {"id": "tsf_t_float", "name": "Concentration", "type": "float"},
    {"id": "tsf_t_bool", "name": "Validated", "type": "boolean"},
    {"id": "tsf_t_date", "name": "Received On", "type": "date"},
    {"id": "tsf_t_datetime", "name": "Prepared At", "type": "datetime"},
    {"id": "tsf_t_dropdown", "name": "Status", "type": "dropdown", "options": OPTIONS},
    {"id": "tsf_t_multi_dd", "name": "Stages", "type": "dropdown", "options": OPTIONS,
     "isMulti": True},
    {"id": "tsf_t_link", "name": "Parent", "type": "entity_link", "linkSchemaId": SCHEMA_ID},
    {"id": "tsf_t_tags", "name": "Tags", "type": "text", "isMulti": True},
    {"id": "tsf_t_counts", "name": "Counts", "type": "integer", "isMulti": True},
    {"id": "tsf_t_json", "name": "Extra", "type": "json"},
    {"id": "tsf_t_blob", "name": "Gel Image", "type": "blob_link"},
]  # fmt: skip


def define(
    tenant: Tenant, name: str, fields_: list[dict[str, Any]], schema_id: str = SCHEMA_ID
) -> None:
    answer = httpx.put(
        f"{tenant.emulator.base_url}/_emulator/schemas/{schema_id}",
        json={"name": name, "fields": fields_},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def typed_rows(db: psycopg.Connection[Any], relation: str) -> dict[str, dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(f"SELECT * FROM benchling.{relation}").fetchall()  # noqa: S608
    return {row["id"]: row for row in rows}


def entity_fields(tenant: Tenant, entity_id: str) -> dict[str, Any]:
    document = benchling_client(tenant.emulator).custom_entities.get_by_id(entity_id).to_dict()
    return document["fields"]  # type: ignore[no-any-return]


def sync(tenant: Tenant) -> None:
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success


def backfill(tenant: Tenant) -> dg.ExecuteInProcessResult:
    """A run of ``typed_table_backfill_job``, as ``typed_table_backfill_sensor`` requests it."""
    job = tenant.definitions().resolve_job_def("typed_table_backfill_job")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    return result


def test_every_field_type_round_trips_into_its_column(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    define(tenant, "Typed Sample", EVERY_TYPE)
    ids = register(tenant, 4, schema_id=SCHEMA_ID)
    benchling_client(tenant.emulator).custom_entities.update(
        ids[0], CustomEntityUpdate(fields=fields({"Tags": {"value": []}, "Label": {"value": None}}))
    )
    sync(tenant)

    rows = typed_rows(db, '"typed_sample$raw"')
    assert set(rows) == set(ids)
    for entity_id in ids:
        row, given = rows[entity_id], entity_fields(tenant, entity_id)
        value = {name: field["value"] for name, field in given.items()}
        assert row["label"] == value["Label"]
        assert row["notes"] == value["Notes"]
        assert row["passage"] == value["Passage"]
        assert row["concentration"] == value["Concentration"]
        assert row["validated"] == value["Validated"]
        assert (row["received_on"].isoformat() if row["received_on"] else None) == value[
            "Received On"
        ]
        assert row["prepared_at"] is None or row["prepared_at"].tzinfo is not None
        assert row["status$id"] == value["Status"]
        assert row["status"] == given["Status"]["displayValue"]
        assert row["stages$id"] == value["Stages"]
        assert row["stages"] == (
            given["Stages"]["displayValue"].split(", ") if value["Stages"] else None
        )
        assert row["parent"] == value["Parent"]
        assert row["tags"] == value["Tags"]
        assert row["counts"] == value["Counts"]
        assert row["extra"] == value["Extra"]
        assert row["gel_image"] == value["Gel Image"]
        assert row["schema_id$"] == SCHEMA_ID and row["entity_type$"] == "custom_entity"
        assert row["archived$"] is False and row["web_url$"]
    assert rows[ids[0]]["tags"] == [] and rows[ids[0]]["label"] is None  # empty values
    assert typed_rows(db, "typed_sample").keys() == rows.keys()  # the view: none archived


def test_hostile_and_colliding_names_are_made_safe_and_queryable(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    define(
        tenant,
        'Robert"); DROP TABLE students;--',
        [
            {"id": "tsf_n_select", "name": "select", "type": "text"},
            {"id": "tsf_n_quote", "name": "He said \"hi\" 'twice'", "type": "text"},
            {"id": "tsf_n_space", "name": "Batch Number", "type": "integer"},
            {"id": "tsf_n_dash", "name": "batch-number", "type": "integer"},
            {"id": "tsf_n_unicode", "name": "Концентрация µg/mL", "type": "float"},
            {"id": "tsf_n_id", "name": "ID", "type": "text"},
        ],
    )
    (entity_id,) = register(tenant, 1, schema_id=SCHEMA_ID)
    sync(tenant)

    (table,) = [t for t in catalogued_tables() if t.schema_id == SCHEMA_ID]
    assert table.table_name == "robert_drop_table_students$raw"
    micro = "концентрация_\u03bcg_ml"  # NFKC: the micro sign becomes the Greek mu
    assert [c.column_name for c in table.columns] == [
        "select", "he_said_hi_twice", "batch_number", "batch_number_2", micro, "id_2",
    ]  # fmt: skip
    row = typed_rows(db, '"robert_drop_table_students$raw"')[entity_id]
    value = {name: field["value"] for name, field in entity_fields(tenant, entity_id).items()}
    assert row["select"] == value["select"]
    assert row["batch_number_2"] == value["batch-number"]
    assert row[micro] == value["Концентрация µg/mL"]
    assert row["id"] == entity_id and row["id_2"] == value["ID"]


def test_a_field_added_renamed_and_retyped_while_syncing(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    base = [
        {"id": "tsf_e_label", "name": "Label", "type": "text"},
        {"id": "tsf_e_passage", "name": "Passage", "type": "integer"},
    ]
    define(tenant, "Evolving", base)
    (first,) = register(tenant, 1, schema_id=SCHEMA_ID)
    sync(tenant)
    label = typed_rows(db, '"evolving$raw"')[first]["label"]

    renamed = [{**base[0], "name": "Display Label"}, base[1]]
    define(
        tenant, "Evolving", [*renamed, {"id": "tsf_e_volume", "name": "Volume", "type": "float"}]
    )
    benchling = benchling_client(tenant.emulator)
    benchling.custom_entities.update(
        first, CustomEntityUpdate(fields=fields({"Volume": {"value": 2.5}}))
    )
    poll(tenant)
    row = typed_rows(db, '"evolving$raw"')[first]
    assert row["label"] == label  # the renamed field kept its column
    assert row["volume"] == 2.5  # the added field has one
    (table,) = [t for t in catalogued_tables() if t.schema_id == SCHEMA_ID]
    assert {c.column_name: c.field_name for c in table.columns} == {
        "label": "Display Label", "passage": "Passage", "volume": "Volume",
    }  # fmt: skip

    define(tenant, "Evolving", [renamed[0], {**base[1], "type": "text"}])
    benchling.custom_entities.update(
        first, CustomEntityUpdate(fields=fields({"Passage": {"value": "p7"}}))
    )
    result = poll(tenant)
    assert typed_rows(db, '"evolving$raw"')[first]["passage"] is None  # not cast
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == TYPE_CHECK]
    assert not check.passed and "Passage" in (check.description or "")
    assert "volume" in typed_rows(db, '"evolving$raw"')[first]  # a removed field keeps its column


def test_an_update_reaches_the_typed_table_and_synced_benchling_data_alike(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    (entity_id,) = register(tenant, 1)
    sync(tenant)
    benchling_client(tenant.emulator).custom_entities.update(
        entity_id, CustomEntityUpdate(fields=fields({"Description": {"value": "edited"}}))
    )
    deadline = time.monotonic() + 30
    while not pending_webhook_ids(tenant.database_url):  # the update's webhook
        assert time.monotonic() < deadline, "no webhook for the update"
        time.sleep(0.05)
    sync(tenant)
    (field_value,) = db.execute(
        "SELECT field_value FROM synced_benchling_data WHERE benchling_api_id = %s", [entity_id]
    ).fetchone() or (None,)
    assert field_value == "edited"
    assert typed_rows(db, '"emulated_sample$raw"')[entity_id]["description"] == "edited"
    assert set(inbox_states(tenant.database_url)) == {"synced"}


def test_archive_sets_the_archived_flag_after_the_poll_and_unarchive_clears_it(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    (entity_id,) = register(tenant, 1)
    sync(tenant)
    benchling = benchling_client(tenant.emulator)
    benchling.custom_entities.archive([entity_id], EntityArchiveReason.MADE_IN_ERROR)
    poll(tenant)
    row = typed_rows(db, '"emulated_sample$raw"')[entity_id]
    assert row["archived$"] is True and row["archive_reason$"] == "Made in error"
    assert entity_id not in typed_rows(db, "emulated_sample")
    benchling.custom_entities.unarchive([entity_id])
    poll(tenant)
    assert typed_rows(db, '"emulated_sample$raw"')[entity_id]["archived$"] is False
    assert entity_id in typed_rows(db, "emulated_sample")


def test_a_new_schema_appears_as_an_asset_with_its_columns(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    define(tenant, "Fresh Schema", EVERY_TYPE[:3])
    register(tenant, 2, schema_id=SCHEMA_ID)
    sync(tenant)

    definitions = build_definitions(tenant.resources(), tables=catalogued_tables())
    (only,) = [
        spec
        for spec in definitions.resolve_all_asset_specs()
        if spec.key == dg.AssetKey(["benchling", "fresh_schema"])
    ]
    assert only.metadata["dagster/table_name"] == "benchling.fresh_schema$raw"
    columns = [c.name for c in only.metadata["dagster/column_schema"].columns]
    assert columns[-3:] == ["label", "notes", "passage"]
    assert "Fresh Schema" in (only.description or "")
    assert [dep.asset_key for dep in only.deps] == [dg.AssetKey("benchling_entity_snapshots")]
    check_keys = {key for checks in definitions.asset_checks or [] for key in checks.check_keys}
    assert dg.AssetCheckKey(only.key, TYPE_CHECK) in check_keys


def test_a_reconciliation_makes_the_tables_of_schemas_stored_before_typed_tables(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    ids = register(tenant, 3)
    sync(tenant)
    # As a deployment upgraded from before typed tables has it: snapshots, no typed table.
    db.execute('DROP TABLE benchling."emulated_sample$raw" CASCADE')
    db.execute("DELETE FROM benchsync.typed_tables")

    reconcile(tenant, full=False)
    # One entity made the table; its other snapshots are left to a run of their own.
    assert len(typed_rows(db, "emulated_sample")) == 1
    backfill(tenant)

    assert set(typed_rows(db, "emulated_sample")) == set(ids)

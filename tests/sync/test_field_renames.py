"""A field renamed in Benchling keeps its values in every table. Benchling keys an entity's
fields by display name, and a schema edit leaves the entities' ``modifiedAt`` as it was, so the
snapshots stored before the rename keep the old name: each table reads a field by its id's
every name, newest first (``benchsync.field_names``)."""

from __future__ import annotations

from typing import Any

import dagster as dg
import httpx
import psycopg
import pytest

from benchling_emulator.schemas import FieldDefinition
from benchsync_dagster import mapping
from benchsync_dagster.definitions import catalogued_tables
from benchsync_dagster.storage import typed_tables
from benchsync_dagster.storage.app_configuration import SyncTarget
from benchsync_dagster.typed.catalog import TypedTable, names_to_read
from benchsync_dagster.typed.columns import FieldColumn
from tests.support.dagster import execute_request
from tests.support.tenant import Tenant, register
from tests.sync.test_app_configuration import field_values, instance
from tests.sync.test_typed_tables import backfill, define, sync, typed_rows

__all__ = ["instance"]  # the fixture, for these tests


def request_body(field: FieldDefinition, name: str) -> dict[str, Any]:
    """The field as ``PUT /_emulator/schemas/<id>`` defines it, named ``name``."""
    body: dict[str, Any] = {
        "id": field.id,
        "name": name,
        "type": field.type,
        "isMulti": field.is_multi,
        "isRequired": field.is_required,
    }
    if field.options:
        body["options"] = [{"id": o.id, "name": o.name} for o in field.options]
    if field.link_schema_id is not None:
        body["linkSchemaId"] = field.link_schema_id
    return body


def rename_field(tenant: Tenant, schema_id: str, was: str, now: str) -> None:
    """Rename a field as a Benchling admin does: its id stays, entities' modifiedAt too."""
    (schema,) = [s for s in tenant.emulator.tenant.schemas() if s.id == schema_id]
    answer = httpx.put(
        f"{tenant.emulator.base_url}/_emulator/schemas/{schema_id}",
        json={
            "name": schema.name,
            "prefix": schema.prefix,
            "type": schema.type,
            "fields": [
                request_body(field, now if field.name == was else field.name)
                for field in schema.fields
            ],
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def values_in_benchling(tenant: Tenant, entity_ids: list[str], field: str) -> dict[str, Any]:
    entities = {i: tenant.emulator.tenant.get_entity(i) for i in entity_ids}
    values = {i: mapping.field_text(entity, field) for i, entity in entities.items()}
    assert all(value is not None for value in values.values())  # a value to keep, each
    return values


def test_the_configured_field_renamed_keeps_its_values_in_synced_benchling_data(
    tenant: Tenant, instance: dg.DagsterInstance, db: psycopg.Connection[Any]
) -> None:
    register(tenant, 2)
    sync(tenant)
    before = list(field_values(db))
    modified = {i: tenant.emulator.tenant.get_entity(i)["modifiedAt"] for i in before}

    schema_id = tenant.emulator.tenant.seed.schema.id
    rename_field(tenant, schema_id, "Description", "Summary")
    assert {i: tenant.emulator.tenant.get_entity(i)["modifiedAt"] for i in before} == modified

    # New entities are synced while the stored configuration still says "Description".
    register(tenant, 2)
    sync(tenant)
    ids = list(field_values(db))
    assert field_values(db) == values_in_benchling(tenant, ids, "Summary")

    # The configuration read again names "Summary": the rows rebuilt from the snapshots, old
    # (stored as "Description") and new, keep their values.
    rebuild = dg.RunRequest(
        job_name="app_configuration_job",
        run_config={"ops": {"benchling_app_configuration": {"config": {}}}},
    )
    result = execute_request(tenant, rebuild, instance)
    assert result.success
    materialized = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("benchling_app_configuration")
    }
    assert materialized["synced_benchling_data"]["rebuilt_for"].value == f"{schema_id} / Summary"
    assert field_values(db) == values_in_benchling(tenant, ids, "Summary")
    (stored,) = db.execute(
        "SELECT field_name, field_id, built_field_name, built_field_id"
        " FROM benchsync.app_configuration"
    )
    assert stored == ("Summary", "tsf_description", "Summary", "tsf_description")


def test_a_typed_field_renamed_keeps_its_values_when_its_table_is_made_again(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    fields = [
        {"id": "tsf_r_label", "name": "Label", "type": "text"},
        {"id": "tsf_r_count", "name": "Count", "type": "integer"},
    ]
    define(tenant, "Renamed", fields, schema_id="ts_renamed")
    (first,) = register(tenant, 1, schema_id="ts_renamed")
    sync(tenant)
    rename_field(tenant, "ts_renamed", "Label", "Display Label")
    (second,) = register(tenant, 1, schema_id="ts_renamed")
    sync(tenant)
    expected = values_in_benchling(tenant, [first, second], "Display Label")
    rows = typed_rows(db, '"renamed$raw"')
    assert {i: rows[i]["label"] for i in expected} == expected  # one column, both entities

    # Made again from the snapshots (as the README's way to accept a retyped field does): the
    # first entity's snapshot still says "Label".
    db.execute('DROP TABLE benchling."renamed$raw" CASCADE')
    db.execute("DELETE FROM benchsync.typed_tables WHERE schema_id = 'ts_renamed'")
    (third,) = register(tenant, 1, schema_id="ts_renamed")
    sync(tenant)
    backfill(tenant)  # the older snapshots, by a run of their own
    expected = values_in_benchling(tenant, [first, second, third], "Display Label")
    rows = typed_rows(db, '"renamed$raw"')
    assert {i: rows[i]["display_label"] for i in expected} == expected
    (table,) = [t for t in catalogued_tables() if t.schema_id == "ts_renamed"]
    (label,) = [c for c in table.columns if c.field_id == "tsf_r_label"]
    assert (label.field_name, label.former_names) == ("Display Label", ("Label",))


def column(field_id: str, name: str | None, *former: str) -> FieldColumn:
    return FieldColumn(field_id, name, "text", False, field_id, None, "text", None, former)


@pytest.mark.parametrize(
    ("columns", "also", "expected"),
    [
        ([column("a", "B", "A")], (), ("B", "A")),
        ([column("a", "C", "B", "A")], ("B",), ("C", "B", "A")),
        # Swapped: "A" is the other field's now, and its value under "A" is that field's.
        ([column("a", "B", "A"), column("b", "A", "B")], (), ("B",)),
        ([column("a", "B"), column("b", "A")], ("A",), ("B",)),  # a stale configuration
    ],
)
def test_a_field_is_read_under_its_names_newest_first_but_those_of_others_now(
    columns: list[FieldColumn], also: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    table = TypedTable("ts_1", "custom_entity", "T", "t$raw", "t", tuple(columns))
    assert names_to_read(table, columns[0], also) == expected


def test_a_configured_field_without_a_typed_table_is_read_by_its_name(
    db: psycopg.Connection[Any],
) -> None:
    target = SyncTarget("ts_none", "Description", "tsf_description")
    assert typed_tables.synced_field_names(db, target) == ("Description",)

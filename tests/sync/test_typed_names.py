"""Nothing a tenant user names stops the code location from loading: schemas and fields named
in any script, with emoji, past Postgres's 63 bytes, and names that differ only by case or
punctuation get typed tables whose Dagster names Dagster accepts, unique and kept across a
rename, with the display name where a user looks for it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import psycopg

from benchsync_dagster.definitions import build_definitions, catalogued_tables, resources_from_env
from benchsync_dagster.defs.typed.assets import TYPE_CHECK, typed_table_key
from benchsync_dagster.typed.catalog import TypedTable
from benchsync_dagster.typed.naming import dagster_name
from tests.support.dagster import run_batch, validate_code_location
from tests.support.tenant import Tenant, pending_webhook_ids, register

DAGSTER_NAME = re.compile(r"^[A-Za-z0-9_]+$")
SCHEMA_NAMES = {
    "ts_latin": "Échantillon",
    "ts_upper": "ÉCHANTILLON",  # the same but for case
    "ts_punct": "Échantillon!",  # the same but for punctuation
    "ts_ascii": "Echantillon",  # folds to the same ASCII letters
    "ts_greek": "Δείγμα πρωτεΐνης",
    "ts_cjk": "样品登记表",
    "ts_arabic": "عينة مختبر",
    "ts_emoji": "🧪🧬",
    "ts_emoji_latin": "🧪 Sample",
    "ts_sample": "Sample",  # "sample" is taken by the one above
    "ts_keyword": "class",
    "ts_long_latin": "Très longue désignation d'un échantillon biologique prélevé à l'hôpital"
    " universitaire de Genève",
    "ts_long_cjk": "样品" * 45,
}
FIELDS: list[dict[str, Any]] = [
    {"id": "tsf_size", "name": "Größe (µm)", "type": "float"},
    {"id": "tsf_count", "name": "数量", "type": "integer"},
    {"id": "tsf_emoji", "name": "🧪", "type": "text"},
    {"id": "tsf_long", "name": "Ωμέγα " * 20, "type": "text"},
]


def define(tenant: Tenant, schema_id: str, name: str) -> None:
    answer = httpx.put(
        f"{tenant.emulator.base_url}/_emulator/schemas/{schema_id}",
        json={
            "name": name,
            "prefix": schema_id[3:].upper(),
            # Field ids are the tenant's: each schema's its own.
            "fields": [{**field, "id": f"{field['id']}_{schema_id}"} for field in FIELDS],
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def sync(tenant: Tenant) -> None:
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success


def ours(tables: list[TypedTable]) -> dict[str, TypedTable]:
    return {table.schema_id: table for table in tables if table.schema_id in SCHEMA_NAMES}


def test_dagster_names_are_the_view_name_when_dagster_takes_it_else_folded_and_hashed() -> None:
    assert dagster_name("emulated_sample", "ts_1") == "emulated_sample"
    assert dagster_name("_2nd_parent", "ts_1") == "_2nd_parent"
    hashed = dagster_name("échantillon", "ts_1")
    assert re.fullmatch(r"echantillon__[0-9a-f]{12}", hashed)
    assert dagster_name("échantillon", "ts_1") == hashed  # stable
    assert dagster_name("échantillon", "ts_2") != hashed
    assert re.fullmatch(r"schema__[0-9a-f]{12}", dagster_name("样品", "ts_1"))
    assert dagster_name("ünïcödé_ñame", "ts_1").startswith("unicode_name__")


def test_a_schema_named_in_any_script_loads_as_an_asset_with_its_display_name(
    tenant: Tenant, db: psycopg.Connection[Any], tmp_path: Path
) -> None:
    for schema_id, name in SCHEMA_NAMES.items():
        define(tenant, schema_id, name)
        register(tenant, 1, schema_id=schema_id)
    sync(tenant)

    tables = ours(catalogued_tables())
    assert set(tables) == set(SCHEMA_NAMES)
    keys = {schema_id: typed_table_key(table) for schema_id, table in tables.items()}
    assert len(set(keys.values())) == len(keys)  # unique, though several fold alike
    for key in keys.values():
        assert all(DAGSTER_NAME.match(part) for part in key.path), key
    assert keys["ts_ascii"] == dg.AssetKey(["benchling", "echantillon"])
    assert keys["ts_keyword"] == dg.AssetKey(["benchling", "class"])
    for table in tables.values():
        assert len(table.table_name.encode()) <= 63

    definitions = build_definitions(tenant.resources(), tables=list(tables.values()))
    dg.Definitions.validate_loadable(definitions)
    specs = {spec.key: spec for spec in definitions.resolve_all_asset_specs()}
    check_keys = {key for checks in definitions.asset_checks or [] for key in checks.check_keys}
    for schema_id, name in SCHEMA_NAMES.items():
        spec = specs[keys[schema_id]]
        assert (spec.description or "").startswith(name)
        assert spec.metadata["schema_name"] == name
        assert spec.metadata["dagster/table_name"] == f"benchling.{tables[schema_id].table_name}"
        assert spec.tags["benchling_schema"] == schema_id
        assert dg.AssetCheckKey(keys[schema_id], TYPE_CHECK) in check_keys

    # Renamed in Benchling, a schema keeps its table and its asset.
    define(tenant, "ts_greek", "Probe")
    register(tenant, 1, schema_id="ts_greek")
    sync(tenant)
    renamed = ours(catalogued_tables())["ts_greek"]
    assert renamed.schema_name == "Probe"
    assert typed_table_key(renamed) == keys["ts_greek"]

    # And the code location loads as `dagster dev` loads it, from this catalog.
    result = validate_code_location(tmp_path, BENCHSYNC_DATABASE_URL=tenant.database_url)
    assert result.returncode == 0, result.stderr


def test_a_schema_id_that_is_no_valid_tag_value_leaves_the_asset_untagged() -> None:
    schema_id = "ts_" + "x" * 70  # Benchling ids go to 100 characters; tag values to 63
    table = TypedTable(schema_id, "custom_entity", "Odd", "odd$raw", "odd")
    definitions = build_definitions(resources_from_env(), tables=[table])
    (spec,) = [s for s in definitions.resolve_all_asset_specs() if s.key == typed_table_key(table)]
    assert "benchling_schema" not in spec.tags
    assert spec.metadata["schema_id"] == schema_id

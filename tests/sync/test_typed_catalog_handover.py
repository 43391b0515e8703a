"""The typed tables' catalog is read once, when the code location initializes (the code server),
and handed through Dagster's reconstruction metadata to the processes that reconstruct it (run
workers): here through the load functions the code server and a run worker call.
tests/end_to_end/test_typed_table_assets.py checks the same through a running ``dagster dev``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.definitions.definitions_load_context import (
    DefinitionsLoadContext,
    DefinitionsLoadType,
)
from dagster._core.definitions.reconstruct import (
    initialize_repository_def_from_pointer,
    reconstruct_repository_def_from_pointer,
)

from benchsync_dagster.defs.typed.assets import GROUP
from benchsync_dagster.typed.catalog import TypedTable, catalog_json, tables_from_json
from benchsync_dagster.typed.columns import FieldColumn

REPO = Path(__file__).resolve().parents[2]
POINTER = ModuleCodePointer("benchsync_dagster.definitions", "defs", str(REPO))


def test_the_catalog_reads_back_from_its_text() -> None:
    dropdown = FieldColumn(
        field_id="tsf_status",
        field_name="Status",
        field_type="dropdown",
        is_multi=True,
        column_name="status",
        option_id_column="status$id",
        sql_type="text[]",
        type_now="text",
        former_names=("State", "Stage"),
    )
    removed = FieldColumn("tsf_gone", None, "integer", False, "gone", None, "bigint")
    tables = [
        TypedTable("ts_b", "custom_entity", "样品", "b$raw", "b", (dropdown, removed), 7),
        TypedTable("ts_a", "dna_sequence", "A", "a$raw", "a"),
    ]
    assert tables_from_json(catalog_json(tables)) == sorted(tables, key=lambda t: t.schema_id)


def catalogue(db: psycopg.Connection[Any], schema_id: str, view_name: str) -> None:
    db.execute(
        "INSERT INTO benchsync.typed_tables"
        " (schema_id, entity_type, schema_name, table_name, view_name)"
        " VALUES (%s, 'custom_entity', %s, %s, %s)",
        [schema_id, view_name.title(), f"{view_name}$raw", view_name],
    )


def typed_assets(repository: dg.RepositoryDefinition) -> dict[dg.AssetKey, str | None]:
    graph = repository.asset_graph
    return {
        key: graph.get(key).description
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == GROUP
    }


def test_a_reconstructed_location_has_the_typed_assets_of_its_initialization(
    db: psycopg.Connection[Any], migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCHSYNC_DATABASE_URL", migrated_database_url)
    catalogue(db, "ts_handed_over", "handed_over")
    # Scoped: the load functions set the process's load context, which later tests must not see.
    initial = DefinitionsLoadContext(DefinitionsLoadType.INITIALIZATION)
    with DefinitionsLoadContext.scoped(initial):
        initialized = initialize_repository_def_from_pointer(POINTER)
    db.execute("DELETE FROM benchsync.typed_tables")
    catalogue(db, "ts_created_since", "created_since")

    with DefinitionsLoadContext.scoped(initial):
        reconstructed = reconstruct_repository_def_from_pointer(
            POINTER, initialized.repository_load_data
        )

    assert set(typed_assets(initialized)) == {dg.AssetKey(["benchling", "handed_over"])}
    assert typed_assets(reconstructed) == typed_assets(initialized)

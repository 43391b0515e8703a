"""Postgres's limits on a typed table, as pure functions: which fields get a column, and which
integer columns must become numeric."""

from __future__ import annotations

from benchsync_dagster.typed.catalog import (
    SYSTEM_COLUMNS,
    SchemaDefinition,
    SchemaField,
    column_types,
    columns_past_bigint,
    evolve,
)
from benchsync_dagster.typed.columns import MAX_COLUMNS, past_bigint, row_fits


def _definition(count: int, field_type: str) -> SchemaDefinition:
    fields = tuple(SchemaField(f"tsf_{i}", f"F{i}", field_type, False) for i in range(count))
    return SchemaDefinition("ts_limits", "Limits", "custom_entity", fields)


def test_a_table_fits_up_to_1600_columns_of_variable_width() -> None:
    assert row_fits(["text"] * MAX_COLUMNS)
    assert not row_fits(["text"] * (MAX_COLUMNS + 1))


def test_fixed_width_columns_fit_while_their_aligned_bytes_stay_under_a_page() -> None:
    assert row_fits(["double precision"] * 800)
    assert not row_fits(["double precision"] * 1000)
    # A boolean before each bigint costs a whole 8 bytes of alignment: 16 bytes a pair.
    assert not row_fits(["boolean", "bigint"] * 450)
    assert row_fits(["boolean"] * 1500)


def test_a_new_schema_past_the_limits_gets_the_columns_that_fit_and_names_the_rest() -> None:
    table, changes = evolve(None, _definition(1700, "boolean"), set())

    assert len(column_types(table.columns)) == MAX_COLUMNS
    assert len(table.columns) == MAX_COLUMNS - len(SYSTEM_COLUMNS)
    assert changes.unfit == [f"F{i}" for i in range(len(table.columns), 1700)]
    assert changes.created and changes  # unfit fields alone would be no change to make

    again, unchanged = evolve(table, _definition(1700, "boolean"), set())

    assert again.columns == table.columns and not unchanged
    assert unchanged.unfit == changes.unfit


def test_an_integer_column_past_bigint_is_found_in_single_and_multi_values() -> None:
    assert past_bigint(2**63) and past_bigint(-(2**63) - 1) and past_bigint([1, 2**64])
    assert not past_bigint(2**63 - 1) and not past_bigint(None) and not past_bigint([1, 2])
    table, _ = evolve(
        None,
        SchemaDefinition(
            "ts_big",
            "Big",
            "custom_entity",
            (
                SchemaField("tsf_n", "N", "integer", False),
                SchemaField("tsf_m", "M", "integer", True),
            ),
        ),
        set(),
    )

    wide = columns_past_bigint(table, [{"n": 1, "m": [2, 2**70]}, {"n": None, "m": None}])

    assert [column.column_name for column in wide] == ["m"]

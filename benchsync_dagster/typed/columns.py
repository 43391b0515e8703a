"""Benchling field types → Postgres column types, and a field's JSON → its column values.

| Benchling field type                    | column (multi-valued: an array of it)          |
|-----------------------------------------|------------------------------------------------|
| text, long_text                         | text                                           |
| integer                                 | bigint; numeric once a value passes bigint     |
| float                                   | double precision                               |
| boolean                                 | boolean                                        |
| date                                    | date                                           |
| datetime                                | timestamptz                                    |
| dropdown                                | text: the option's name, and ``<column>$id``: its id |
| entity_link and every other ``*_link``  | text: the linked item's Benchling id           |
|   (dna_sequence_link, blob_link, storage_link, part_link, batch_link, assay_*_link …) |  |
| json, and any type not listed           | jsonb: the value as Benchling gives it         |

Empty values are NULL; an empty multi-valued field is an empty array.

A table holds at most 1,600 columns and, when every value is set, 8,160 bytes of row: the
fields of a schema that would pass either limit get no column (``row_fits``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

_SCALAR_TYPES = {
    "text": "text",
    "long_text": "text",
    "integer": "bigint",
    "float": "double precision",
    "boolean": "boolean",
    "date": "date",
    "datetime": "timestamptz",
    "dropdown": "text",
}
_JSON = "jsonb"
BIGINT_RANGE = range(-(2**63), 2**63)
WIDE_INTEGER = "numeric"  # an integer column once a value passes bigint

# Postgres's limits on a table: columns (MaxHeapAttributeNumber) and bytes in a row that must
# fit one 8 kB page (MaxHeapTupleSize); values of variable width move out of line when long.
MAX_COLUMNS = 1600
MAX_ROW_BYTES = 8160
_TUPLE_HEADER_BYTES = 24
# Kept for the inline part of the variable-width values: benchsync's own text columns, and
# the short values (or the pointers of long ones) of text, array and jsonb fields.
_VARIABLE_WIDTH_RESERVE_BYTES = 1024
# Fixed-width column types: (bytes, alignment).
_FIXED_WIDTHS = {
    "bigint": (8, 8),
    "double precision": (8, 8),
    "timestamptz": (8, 8),
    "date": (4, 4),
    "boolean": (1, 1),
}


def sql_type(field_type: str, is_multi: bool) -> str:
    """The column type of a field of this Benchling type."""
    scalar = _SCALAR_TYPES.get(field_type, "text" if field_type.endswith("_link") else _JSON)
    if scalar == _JSON:
        return _JSON  # a multi-valued json field is one jsonb array
    return f"{scalar}[]" if is_multi else scalar


def row_fits(column_types: list[str]) -> bool:
    """Whether a table of columns of these types (in table order) stays within Postgres's
    limits with every value set: its column count, and its row's bytes (fixed-width values,
    aligned as Postgres aligns them, beside a reserve for the inline part of the others)."""
    if len(column_types) > MAX_COLUMNS:
        return False
    offset = _TUPLE_HEADER_BYTES + -(-len(column_types) // 8)  # the header, and its null bitmap
    for column_type in column_types:
        width, alignment = _FIXED_WIDTHS.get(column_type, (0, 1))
        offset += -offset % alignment + width
    return offset + _VARIABLE_WIDTH_RESERVE_BYTES <= MAX_ROW_BYTES


def past_bigint(value: Any) -> bool:
    """Whether an integer column's value (or any of an array's) lies outside bigint."""
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, int) and v not in BIGINT_RANGE for v in values)


@dataclass(frozen=True)
class FieldColumn:
    """Where one schema field is stored: its catalog entry."""

    field_id: str
    field_name: str | None  # its display name now; None once the schema no longer has it
    field_type: str
    is_multi: bool
    column_name: str
    option_id_column: str | None  # dropdowns: the column of the option ids
    sql_type: str
    type_now: str | None = None  # the type Benchling gives it now, when not ``field_type``
    # The display names it had before, newest first: a stored snapshot keys its fields by the
    # names they had when it was fetched (a schema edit changes no entity's modifiedAt).
    former_names: tuple[str, ...] = ()


class FieldValueError(ValueError):
    """A field value that does not fit its column (stored as NULL, and reported)."""


def _one(field_type: str, value: Any) -> Any:
    if field_type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldValueError(f"{value!r} is not an integer")
        return value
    if field_type == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldValueError(f"{value!r} is not a number")
        return float(value)
    if field_type == "boolean":
        if not isinstance(value, bool):
            raise FieldValueError(f"{value!r} is not a boolean")
        return value
    if field_type in ("date", "datetime"):
        parse = date.fromisoformat if field_type == "date" else datetime.fromisoformat
        try:
            parse(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise FieldValueError(f"{value!r} is not a {field_type}") from None
        return value
    if field_type in _SCALAR_TYPES or field_type.endswith("_link"):
        return value if isinstance(value, str) else json.dumps(value)
    return value


def _option_names(field: Mapping[str, Any], count: int) -> list[str | None]:
    """A dropdown's option names, from its displayValue (multi-valued ones join theirs with
    ", "); None each when that cannot be split back into ``count`` names."""
    shown = field.get("displayValue")
    if not isinstance(shown, str):
        return [None] * count
    names = shown.split(", ") if count != 1 else [shown]
    return list(names) if len(names) == count else [None] * count


def column_values(column: FieldColumn, field: Mapping[str, Any] | None) -> dict[str, Any]:
    """The column values (by column name) of one entity's field JSON (``{"value", "type",
    "isMulti", "displayValue"}``, or None when the entity has no such field). Raises
    ``FieldValueError`` when the value does not fit."""
    value = field.get("value") if isinstance(field, Mapping) else None
    values: list[Any] | None
    if value is None:
        values = None
    elif column.sql_type == _JSON:
        return {column.column_name: value}  # rows travel as JSON: jsonb takes the value as is
    elif column.is_multi:
        if not isinstance(value, list):
            raise FieldValueError(f"{value!r} is not a list (the field is multi-valued)")
        values = [_one(column.field_type, item) for item in value]
    else:
        values = [_one(column.field_type, value)]
    stored = values if column.is_multi or values is None else values[0]
    if column.option_id_column is None:
        return {column.column_name: stored}
    names = None if values is None else _option_names(field or {}, len(values))
    return {
        column.column_name: names if column.is_multi or names is None else names[0],
        column.option_id_column: stored,
    }

"""``benchsync.typed_table_problems``: per entity schema, why its typed table is not whole (a
write Postgres refused, or fields past its limits without a column). Its snapshots are whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row

ProblemKind = Literal["error", "unfit"]


@dataclass(frozen=True)
class TypedTableProblem:
    schema_id: str
    schema_name: str
    kind: ProblemKind
    problem: str
    noted_at: datetime


def note(
    connection: psycopg.Connection[Any],
    schema_id: str,
    schema_name: str,
    kind: ProblemKind,
    problem: str,
) -> None:
    connection.execute(
        "INSERT INTO benchsync.typed_table_problems (schema_id, schema_name, kind, problem)"
        " VALUES (%s, %s, %s, %s) ON CONFLICT (schema_id) DO UPDATE SET"
        " schema_name = EXCLUDED.schema_name, kind = EXCLUDED.kind,"
        " problem = EXCLUDED.problem, noted_at = now()",
        [schema_id, schema_name, kind, problem],
    )


def clear(connection: psycopg.Connection[Any], schema_id: str) -> None:
    connection.execute(
        "DELETE FROM benchsync.typed_table_problems WHERE schema_id = %s", [schema_id]
    )


def noted(
    connection: psycopg.Connection[Any], schema_ids: Sequence[str] | None = None
) -> dict[str, TypedTableProblem]:
    """The problems noted (of these schemas, or all), by schema id."""
    with connection.cursor(row_factory=class_row(TypedTableProblem)) as cursor:
        rows = cursor.execute(
            "SELECT schema_id, schema_name, kind, problem, noted_at"
            " FROM benchsync.typed_table_problems"
            " WHERE %(all)s OR schema_id = ANY(%(ids)s) ORDER BY schema_id",
            {"all": schema_ids is None, "ids": list(schema_ids or [])},
        ).fetchall()
    return {row.schema_id: row for row in rows}

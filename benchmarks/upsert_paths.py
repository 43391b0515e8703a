"""The write path's rows/s against two references: ``executemany`` and ``COPY``.

For each of the two tables a sync run writes (the raw snapshots, the seed's synced rows), the
same batches of the emulator's custom entities are written by:

  used         the code's own upsert (``snapshots.upsert``, ``synced_data.upsert``: one
               INSERT … SELECT FROM unnest(arrays) ON CONFLICT … per batch)
  executemany  the same upsert statement row by row (psycopg's ``executemany``, pipelined)
  copy         ``COPY`` into a temporary table, then one INSERT … SELECT … ON CONFLICT from it

Each round writes --batch new entities, then the same ones again with a newer modifiedAt (the
update path). Frames are built outside the timing: only the database write is measured.

    BENCHSYNC_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/upsert_paths.py --batch 1000 --rounds 5

The database named is used as a server: a scratch database is made beside it and dropped.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql
from scratch import edited, entity_documents, scratch_database

from benchsync_dagster import mapping
from benchsync_dagster.storage import frame_columns, snapshots, synced_data

Connection = psycopg.Connection[Any]
Writer = Callable[[Connection, pd.DataFrame], object]

FIELD = "Sequence Notes"


def rows_of(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    columns = frame_columns(frame)
    return list(zip(*columns, strict=True))


def head_and_tail(statement: str) -> tuple[str, str]:
    """An upsert's ``INSERT INTO … (columns)`` and its ``ON CONFLICT …`` clause."""
    return statement[: statement.index("SELECT")], statement[statement.index("ON CONFLICT") :]


def executemany_writer(statement: str, columns: list[str]) -> Writer:
    """The same upsert, one row per execute (psycopg pipelines them)."""
    head, tail = head_and_tail(statement)
    per_row = f"{head}VALUES ({', '.join(['%s'] * len(columns))})\n{tail}"

    def write(connection: Connection, frame: pd.DataFrame) -> None:
        with connection.cursor() as cursor:
            cursor.executemany(per_row, rows_of(frame[columns]))

    return write


def copy_writer(table: str, statement: str, columns: list[str]) -> Writer:
    """COPY into a temporary table shaped like ``table``, then the same upsert from it."""
    head, tail = head_and_tail(statement)
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    incoming = sql.Identifier(f"incoming_{table}")
    merge = sql.SQL(head) + sql.SQL("SELECT {} FROM {}\n").format(names, incoming) + sql.SQL(tail)
    # Only the written columns, without the table's constraints (its identity is not written).
    create = sql.SQL(
        "CREATE TEMPORARY TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS"
        " AS SELECT {} FROM {} WITH NO DATA"
    ).format(incoming, names, sql.Identifier(table))
    copy_in = sql.SQL("COPY {} ({}) FROM STDIN").format(incoming, names)

    def write(connection: Connection, frame: pd.DataFrame) -> None:
        connection.execute(create)
        with connection.cursor().copy(copy_in) as copy:
            for row in rows_of(frame[columns]):
                copy.write_row(row)
        connection.execute(merge)

    return write


def measure(
    connection: Connection, write: Writer, frames: list[tuple[pd.DataFrame, pd.DataFrame]]
) -> float:
    """Rows/s of ``write`` over the rounds' (new, updated) frames, each write its transaction."""
    connection.execute("TRUNCATE benchling_entity_snapshots, synced_benchling_data")
    rows, seconds = 0, 0.0
    for new, updated in frames:
        for frame in (new, updated):
            started = time.perf_counter()
            with connection.transaction():
                write(connection, frame)
            seconds += time.perf_counter() - started
            rows += len(frame)
    return rows / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rounds = []
    for _ in range(args.rounds):
        documents = entity_documents(args.batch)
        rounds.append((documents, edited(documents, 60)))
    tables: dict[str, tuple[Callable[[list[dict[str, Any]]], pd.DataFrame], str, Writer]] = {
        "benchling_entity_snapshots": (
            lambda documents: mapping.snapshot_frame(documents, {}),
            snapshots._UPSERT,
            snapshots.upsert,
        ),
        "synced_benchling_data": (
            lambda documents: mapping.synced_data_frame(documents, (FIELD,), {}),
            synced_data._UPSERT,
            synced_data.upsert,
        ),
    }
    print(f"{args.rounds} rounds x {args.batch} entities, new then updated; rows/s")
    print("table | used (unnest) | executemany | COPY + upsert | used ÷ best reference")
    with scratch_database() as url, psycopg.connect(url, autocommit=True) as connection:
        for table, (frame_of, statement, used) in tables.items():
            frames = [(frame_of(new), frame_of(updated)) for new, updated in rounds]
            columns = list(frames[0][0].columns)
            figures = [
                measure(connection, used, frames),
                measure(connection, executemany_writer(statement, columns), frames),
                measure(connection, copy_writer(table, statement, columns), frames),
            ]
            print(
                f"{table} | {figures[0]:,.0f} | {figures[1]:,.0f} | {figures[2]:,.0f} |"
                f" {figures[0] / max(figures[1:]):.2f}"
            )


if __name__ == "__main__":
    main()

"""How a fault test ends: the mirror compared with the tenant, read back through benchling-sdk."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from benchling_emulator.server import EmulatorServer
from benchsync_dagster import mapping
from benchsync_dagster.benchling.app_config import read_sync_target
from benchsync_dagster.storage.typed_tables import SCHEMA as TYPED_SCHEMA
from tests.support.emulator import benchling_client

BULK_GET_SIZE = 100


def tenant_documents(emulator: EmulatorServer, entity_ids: Sequence[str]) -> dict[str, Any]:
    """The custom entities ``entity_ids`` as Benchling serves them now (``to_dict()``), by id."""
    benchling = benchling_client(emulator)
    documents: dict[str, Any] = {}
    for start in range(0, len(entity_ids), BULK_GET_SIZE):
        chunk = list(entity_ids[start : start + BULK_GET_SIZE])
        for entity in benchling.custom_entities.bulk_get(chunk) or []:
            documents[entity.id] = entity.to_dict()
    return documents


def typed_rows(
    connection: psycopg.Connection[Any], entity_ids: Sequence[str]
) -> dict[str, tuple[Any, ...]]:
    """Each entity's row in its schema's typed table: (modified_at, archived, name)."""
    rows: dict[str, tuple[Any, ...]] = {}
    tables = connection.execute("SELECT table_name FROM benchsync.typed_tables").fetchall()
    for (table_name,) in tables:
        for entity_id, *values in connection.execute(
            sql.SQL(
                'SELECT id, "modified_at$", "archived$", "name$" FROM {} WHERE id = ANY(%s)'
            ).format(sql.Identifier(TYPED_SCHEMA, table_name)),
            [list(entity_ids)],
        ):
            rows[entity_id] = tuple(values)
    return rows


def mismatches(
    emulator: EmulatorServer, connection: psycopg.Connection[Any], entity_ids: Sequence[str]
) -> list[str]:
    """What differs between the tenant's ``entity_ids`` (custom entities) and benchsync's tables
    and inbox; empty when the snapshots, the typed tables and the synced rows hold one row per
    entity with the tenant's current values, and none of their events is pending or dead."""
    tenant = tenant_documents(emulator, entity_ids)
    target = read_sync_target(benchling_client(emulator), emulator.settings.app_id)
    problems = [
        f"{entity_id}: not in the tenant" for entity_id in entity_ids if entity_id not in tenant
    ]
    snapshots = {
        row[0]: row[1:]
        for row in connection.execute(
            "SELECT entity_id, modified_at, archived, document ->> 'name'"
            " FROM benchling_entity_snapshots WHERE entity_id = ANY(%s)",
            [list(entity_ids)],
        ).fetchall()
    }
    synced = {
        row[0]: row[1:]
        for row in connection.execute(
            "SELECT benchling_api_id, modified_at, archived, entity_name, field_value"
            " FROM synced_benchling_data WHERE benchling_api_id = ANY(%s)",
            [list(entity_ids)],
        ).fetchall()
    }
    typed = typed_rows(connection, entity_ids)
    for entity_id, document in tenant.items():
        modified_at = datetime.fromisoformat(document["modifiedAt"])
        archived = mapping.archive_reason(document) is not None
        expected_snapshot = (modified_at, archived, document.get("name"))
        if snapshots.get(entity_id) != expected_snapshot:
            problems.append(
                f"{entity_id}: snapshot {snapshots.get(entity_id)} != tenant {expected_snapshot}"
            )
        if typed.get(entity_id) != expected_snapshot:
            problems.append(
                f"{entity_id}: typed row {typed.get(entity_id)} != tenant {expected_snapshot}"
            )
        if mapping.schema_id(document) == target.schema_id:
            expected_row = (
                modified_at,
                archived,
                document.get("name"),
                mapping.field_text(document, target.field_name),
            )
            if synced.get(entity_id) != expected_row:
                problems.append(
                    f"{entity_id}: row {synced.get(entity_id)} != tenant {expected_row}"
                )
    unsettled = connection.execute(
        "SELECT resource_id, state, reason FROM benchsync.inbox"
        " WHERE resource_id = ANY(%s) AND state IN ('pending', 'dead') LIMIT 20",
        [list(entity_ids)],
    ).fetchall()
    problems.extend(f"{rid}: an event is {state} ({reason})" for rid, state, reason in unsettled)
    return problems


def wait_until_settled(
    connection: psycopg.Connection[Any], entity_ids: Sequence[str], timeout: float
) -> None:
    """Wait, reading only the database (the tenant's rate budget is the sync's), until every
    one of ``entity_ids`` has a snapshot and none of their events is pending."""
    deadline = time.monotonic() + timeout
    while True:
        row = connection.execute(
            "SELECT (SELECT count(*) FROM benchling_entity_snapshots WHERE entity_id = ANY(%s)),"
            " (SELECT count(*) FROM benchsync.inbox"
            "  WHERE resource_id = ANY(%s) AND state = 'pending')",
            [list(entity_ids), list(entity_ids)],
        ).fetchone()
        assert row is not None
        stored, pending = row
        if stored == len(set(entity_ids)) and pending == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"after {timeout:.0f} s: {stored} of {len(set(entity_ids))} entities stored,"
                f" {pending} events pending, the oldest:\n"
                + _pending_events(connection, entity_ids)
            )
        time.sleep(1)


def _pending_events(connection: psycopg.Connection[Any], entity_ids: Sequence[str]) -> str:
    """The first pending events of ``entity_ids``, with what the inbox knows of them: enough to
    tell a batch no run took from one whose run failed."""
    rows = connection.execute(
        "SELECT webhook_id, txid, seq, received_at, attempts, reason FROM benchsync.inbox"
        " WHERE resource_id = ANY(%s) AND state = 'pending' ORDER BY txid, seq LIMIT 10",
        [list(entity_ids)],
    ).fetchall()
    return "\n".join(
        f"  {webhook_id} at {txid}:{seq}, received {received_at:%H:%M:%S.%f},"
        f" {attempts} attempts, {reason or 'no error'}"
        for webhook_id, txid, seq, received_at, attempts, reason in rows
    )


def assert_mirrored(
    emulator: EmulatorServer,
    connection: psycopg.Connection[Any],
    entity_ids: Sequence[str],
    timeout: float,
) -> None:
    """Once settled, the tables match the tenant (``mismatches``), or the test fails with them."""
    wait_until_settled(connection, entity_ids, timeout)
    problems = mismatches(emulator, connection, entity_ids)
    assert not problems, f"{len(problems)} mismatches:\n" + "\n".join(problems[:20])

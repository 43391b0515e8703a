"""The real thing: Dagster's daemon (``dagster dev``), the bridge under gunicorn and the emulator.

Entities registered through benchling-sdk reach ``synced_benchling_data`` with nobody calling
a job: the emulator signs webhooks, the bridge records them, the sensor requests runs.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from benchling_sdk.helpers.serialization_helpers import fields
from benchling_sdk.models import CustomEntityCreate, NamingStrategy

from benchling_emulator.seed import SYNCED_TEXT_FIELD
from benchsync.demo.stack import Stack
from tests.support.emulator import benchling_client

SYNC_TIMEOUT_SECONDS = 120


def test_entities_registered_through_the_sdk_are_synced_by_the_daemon(
    stack: Stack, db: psycopg.Connection[Any]
) -> None:
    assert stack.emulator is not None
    benchling = benchling_client(stack.emulator)
    seed = stack.emulator.tenant.seed
    created = [
        benchling.custom_entities.create(
            CustomEntityCreate(
                name=f"Plasmid {number}",
                schema_id=seed.schema.id,
                folder_id=seed.folder_id,
                registry_id=seed.registry.id,
                naming_strategy=NamingStrategy.NEW_IDS,
                fields=fields({SYNCED_TEXT_FIELD: {"value": f"note {number}"}}),
            )
        )
        for number in range(3)
    ]
    expected = {entity.id: f"note {number}" for number, entity in enumerate(created)}

    deadline = time.monotonic() + SYNC_TIMEOUT_SECONDS
    synced: dict[str, str] = {}
    while synced != expected:
        stack.check_children()
        assert time.monotonic() < deadline, f"only {synced} synced in {SYNC_TIMEOUT_SECONDS} s"
        time.sleep(1)
        synced = dict(
            db.execute(
                "SELECT benchling_api_id, field_value FROM synced_benchling_data"
                " WHERE benchling_api_id = ANY(%s)",
                [list(expected)],
            ).fetchall()
        )

"""The real thing: Dagster's daemon (``dagster dev``), the bridge under gunicorn and the emulator.

Entities registered through benchling-sdk reach ``synced_benchling_data`` with nobody calling
a job: the emulator signs webhooks, the bridge records them, the sensor requests runs.
"""

from __future__ import annotations

import argparse
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from benchling_sdk.helpers.serialization_helpers import fields
from benchling_sdk.models import CustomEntityCreate, NamingStrategy

from benchling_emulator.seed import SYNCED_TEXT_FIELD
from benchsync_dagster.demo import Stack
from tests.support.emulator import benchling_client

SYNC_TIMEOUT_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def stack(
    migrated_database_url: str,
    db: psycopg.Connection[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    monkeypatch.setenv("BENCHSYNC_DATABASE_URL", migrated_database_url)
    options = argparse.Namespace(
        bridge_port=_free_port(),
        dagster_port=_free_port(),
        emulator_port=_free_port(),
        rate_limit=60,
    )
    with Stack(options, home=tmp_path) as running:
        yield running


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
            db.execute("SELECT benchling_api_id, field_value FROM synced_benchling_data").fetchall()
        )

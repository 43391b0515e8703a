"""Every webhook delivered twice, in shuffled order, while entities are edited through
benchling-sdk between the two deliveries of their webhooks: the inbox keeps each webhook once,
and every entity ends with one row holding its newest values."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
import psycopg
from benchling_sdk.helpers.serialization_helpers import fields
from benchling_sdk.models import CustomEntityUpdate

from benchling_emulator.seed import SYNCED_TEXT_FIELD
from benchling_emulator.server import EmulatorServer
from benchsync.demo.stack import Stack
from tests.support.consistency import assert_mirrored, wait_until_settled
from tests.support.emulator import benchling_client

BURST = 300
EDIT_ROUNDS = 3
EDITS_PER_ROUND = 40
# Edits are a scientist's, not the App's API calls: Benchling's limit must not refuse them.
UNLIMITED = 100_000


def acknowledged_posts(emulator: EmulatorServer) -> int:
    return sum(record.acknowledged for record in emulator.delivery.log())


def wait_for_acknowledged_posts(emulator: EmulatorServer, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while acknowledged_posts(emulator) < count:
        assert time.monotonic() < deadline, f"fewer than {count} webhook POSTs acknowledged"
        time.sleep(0.1)


def half_delivered(emulator: EmulatorServer, db: psycopg.Connection[Any]) -> list[str]:
    """The entities of webhooks acknowledged once so far: their duplicates are still queued."""
    once = [record.webhook_id for record in emulator.delivery.log() if record.acknowledged == 1]
    rows = db.execute(
        "SELECT DISTINCT resource_id FROM benchsync.inbox WHERE webhook_id = ANY(%s)", [once]
    ).fetchall()
    return sorted(resource_id for (resource_id,) in rows)


def test_duplicated_shuffled_deliveries_around_edits_leave_one_newest_row_per_entity(
    stack: Stack, db: psycopg.Connection[Any]
) -> None:
    emulator = stack.emulator
    assert emulator is not None
    faults = f"{emulator.base_url}/_emulator/faults"
    delivering = {"duplicate_rate": 1.0, "shuffle": True, "rate_limit": UNLIMITED}
    httpx.post(faults, json=delivering).raise_for_status()
    rng = random.Random(16)  # seeded: a failing run edits the same entities again
    edits: list[int] = []  # per round
    try:
        started = time.monotonic()
        entity_ids = emulator.tenant.create_registered(BURST)
        benchling = benchling_client(emulator)
        for edit_round in range(1, EDIT_ROUNDS + 1):
            # Spread over the deliveries: the registrations' copies number 2 * BURST.
            wait_for_acknowledged_posts(emulator, edit_round * BURST // 2, timeout=60)
            candidates = half_delivered(emulator, db)
            edited = rng.sample(candidates, min(EDITS_PER_ROUND, len(candidates)))
            for entity_id in edited:
                update = CustomEntityUpdate(
                    name=f"Edited {entity_id} in round {edit_round}",
                    fields=fields({SYNCED_TEXT_FIELD: {"value": f"round {edit_round}"}}),
                )
                benchling.custom_entities.update(entity_id, update)
            edits.append(len(edited))
        assert emulator.wait_for_webhooks(timeout=120), "webhooks still undelivered"
        delivered_after = time.monotonic() - started
    finally:
        restore = {"duplicate_rate": 0.0, "shuffle": False, "rate_limit": stack.options.rate_limit}
        httpx.post(faults, json=restore).raise_for_status()

    log = emulator.delivery.log()
    (recorded,) = db.execute(
        "SELECT count(*) FROM benchsync.inbox WHERE resource_id = ANY(%s)", [entity_ids]
    ).fetchone() or (0,)
    posts = sum(record.acknowledged for record in log)
    print(
        f"{len(log)} webhooks ({BURST} registrations, edits {edits}), {posts} POSTs acknowledged"
        f" in {delivered_after:.1f} s; {recorded} inbox rows"
    )
    assert all(edits), "a round found no webhook with its duplicate still to come"
    assert min(record.acknowledged for record in log) >= 2
    assert recorded == len(log)  # each webhook once, however often it came
    wait_until_settled(db, entity_ids, timeout=180)
    print(f"drained {time.monotonic() - started:.1f} s after the burst began")
    assert_mirrored(emulator, db, entity_ids, timeout=30)

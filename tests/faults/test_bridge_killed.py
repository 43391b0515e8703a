"""The bridge's whole process group (gunicorn's master and workers) killed with SIGKILL in the
middle of a burst of registrations, then started again on its port: every webhook the emulator
had an acknowledgement for is already in the inbox, what was not acknowledged is redelivered and
arrives, and every entity ends mirrored."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from benchsync.demo.stack import Stack
from tests.support.consistency import assert_mirrored, wait_until_settled
from tests.support.tenant import entities_in_inbox

BURST = 1_000
KILLED_AFTER_RECORDED = 400  # of the burst's webhooks: its middle, at 50 deliveries a second


def inbox_webhook_ids(db: psycopg.Connection[Any]) -> set[str]:
    return {webhook_id for (webhook_id,) in db.execute("SELECT webhook_id FROM benchsync.inbox")}


def test_a_bridge_killed_mid_burst_loses_nothing_it_acknowledged_and_gets_the_rest_again(
    stack: Stack, db: psycopg.Connection[Any]
) -> None:
    emulator = stack.emulator
    assert emulator is not None
    started = time.monotonic()
    entity_ids = emulator.tenant.create_registered(BURST)  # delivered by background threads
    deadline = time.monotonic() + 60
    while entities_in_inbox(stack.database_url, entity_ids) < KILLED_AFTER_RECORDED:
        assert time.monotonic() < deadline, "the burst never reached the inbox"
        time.sleep(0.05)

    stack.child("bridge").kill()
    killed_at = time.monotonic()
    acknowledged_before = {r.webhook_id for r in emulator.delivery.log() if r.acknowledged}
    recorded_before = inbox_webhook_ids(db)
    lost = acknowledged_before - recorded_before
    stack.restart_bridge()
    down_seconds = time.monotonic() - killed_at

    assert not lost, f"{len(lost)} acknowledged webhooks are not in the inbox: {sorted(lost)[:5]}"
    assert emulator.wait_for_webhooks(timeout=120), "webhooks still undelivered"
    log = emulator.delivery.log()
    redelivered = {record.webhook_id for record in log if record.failed}
    unacknowledged = [record.webhook_id for record in log if not record.acknowledged]
    missing = {record.webhook_id for record in log} - inbox_webhook_ids(db)
    print(
        f"bridge killed with {len(acknowledged_before)} of {len(log)} webhooks acknowledged,"
        f" down {down_seconds:.1f} s; {sum(record.failed for record in log)} POSTs failed,"
        f" {len(redelivered)} webhooks redelivered ({len(redelivered & recorded_before)} of them"
        " recorded before the kill, their answers lost)"
    )
    assert redelivered, "the kill met no delivery"
    assert not unacknowledged, f"{len(unacknowledged)} webhooks abandoned"
    assert not missing, f"{len(missing)} webhooks never reached the inbox"
    wait_until_settled(db, entity_ids, timeout=180)
    print(f"drained {time.monotonic() - started:.1f} s after the burst began")
    assert_mirrored(emulator, db, entity_ids, timeout=30)

"""``benchsync replay`` against the running stack: Dagster's daemon never launches a run key
twice, so a replayed event must come back under a batch name no earlier batch had.

Each test requeues events that have already ended (synced or dead) and waits for the daemon to
settle them again, later than the replay.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from benchsync.cli import main
from benchsync.demo.progress import wait_until_synced
from benchsync.demo.stack import Stack
from benchsync_dagster.batch_runs import BATCH_TAG

SETTLE_TIMEOUT_SECONDS = 120

RUNS_QUERY = """
query Runs($filter: RunsFilter!) {
  runsOrError(filter: $filter) { ... on Runs { results { runConfigYaml tags { key value } } } }
}
"""


def events_of(db: psycopg.Connection[Any], entity_ids: list[str]) -> dict[str, tuple[str, Any]]:
    """webhook id → (state, finished_at) of these entities' events."""
    rows = db.execute(
        "SELECT webhook_id, state, finished_at FROM benchsync.inbox WHERE resource_id = ANY(%s)",
        [entity_ids],
    ).fetchall()
    return {webhook_id: (state, finished_at) for webhook_id, state, finished_at in rows}


def wait_until_settled_after(
    stack: Stack, db: psycopg.Connection[Any], webhook_ids: list[str], moment: datetime
) -> dict[str, str]:
    """Each event's state once every one has ended again after ``moment``."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while True:
        stack.check_children()
        rows = db.execute(
            "SELECT webhook_id, state FROM benchsync.inbox"
            " WHERE webhook_id = ANY(%s) AND state <> 'pending' AND finished_at > %s",
            [webhook_ids, moment],
        ).fetchall()
        if len(rows) == len(webhook_ids):
            return dict(rows)
        assert time.monotonic() < deadline, f"{len(rows)} of {len(webhook_ids)} settled again"
        time.sleep(0.5)


def replay(capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    capsys.readouterr()
    assert main(["replay", *flags]) == 0
    return capsys.readouterr().out


@pytest.fixture
def synced(stack: Stack, db: psycopg.Connection[Any]) -> list[str]:
    """Three entities' events, synced by the daemon; their webhook ids."""
    assert stack.emulator is not None
    entity_ids = stack.emulator.tenant.create_registered(3)
    wait_until_synced(stack, entity_ids, timeout=SETTLE_TIMEOUT_SECONDS)
    return list(events_of(db, entity_ids))


def test_a_window_of_synced_events_is_synced_again(
    stack: Stack, db: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    since = datetime.now(UTC)
    assert stack.emulator is not None
    entity_ids = stack.emulator.tenant.create_registered(3)
    wait_until_synced(stack, entity_ids, timeout=SETTLE_TIMEOUT_SECONDS)
    webhook_ids = list(events_of(db, entity_ids))
    replayed_at = datetime.now(UTC)

    report = replay(capsys, "--since", since.isoformat(), "--until", replayed_at.isoformat())

    assert "requeued 3 events received in that window (3 synced)" in report
    states = wait_until_settled_after(stack, db, webhook_ids, replayed_at)
    assert set(states.values()) == {"synced"}


def test_one_event_is_synced_again(
    stack: Stack,
    db: psycopg.Connection[Any],
    synced: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    replayed_at = datetime.now(UTC)

    report = replay(capsys, "--webhook-id", synced[0])

    assert "requeued 1 events named by webhook id (1 synced)" in report
    assert wait_until_settled_after(stack, db, synced[:1], replayed_at) == {synced[0]: "synced"}


def test_a_whole_batch_is_synced_again_by_its_run_key(
    stack: Stack,
    db: psycopg.Connection[Any],
    synced: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = stack.graphql(RUNS_QUERY, {"filter": {"pipelineName": "sync_job"}})
    (batch,) = [
        {tag["key"]: tag["value"] for tag in run["tags"]}[BATCH_TAG]
        for run in runs["runsOrError"]["results"]
        if synced[0] in run["runConfigYaml"]
    ]
    replayed_at = datetime.now(UTC)

    report = replay(capsys, "--batch", batch)

    assert f"events of batch {batch}" in report
    states = wait_until_settled_after(stack, db, synced, replayed_at)
    assert set(states.values()) == {"synced"}


def test_a_dead_letter_is_tried_again(
    stack: Stack, db: psycopg.Connection[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert stack.emulator is not None
    (entity_id,) = stack.emulator.tenant.create_registered(1)
    stack.emulator.tenant.delete([entity_id])  # Benchling answers 404: the event ends dead
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while [state for state, _ in events_of(db, [entity_id]).values()] != ["dead"]:
        assert time.monotonic() < deadline, events_of(db, [entity_id])
        time.sleep(0.5)
    replayed_at = datetime.now(UTC)

    report = replay(capsys)

    # Every dead letter of the session's stack is requeued: ours among them.
    assert re.search(r"requeued (\d+) dead-lettered events \(\1 dead\)", report), report
    webhook_ids = list(events_of(db, [entity_id]))
    # Tried again by a new run (the entity is still gone, so it ends dead again).
    assert wait_until_settled_after(stack, db, webhook_ids, replayed_at) == {webhook_ids[0]: "dead"}

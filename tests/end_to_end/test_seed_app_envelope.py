"""An App configured like Benchling's example (the seed): its manifest subscribes to
``v0-beta.event.created`` for ``v2.entity.registered``, so each registration arrives wrapped.
Through the real stack (emulator, bridge under gunicorn, Dagster's daemon) it reaches
``synced_benchling_data`` and its typed table as an unwrapped one does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from benchsync.demo.progress import wait_until_synced
from benchsync.demo.stack import Stack
from tests.support.consistency import typed_rows

SYNC_TIMEOUT_SECONDS = 120


@pytest.fixture
def seed_app_envelope(stack: Stack) -> Iterator[None]:
    """The stack's tenant delivers registrations wrapped until the test ends (the stack is the
    session's: the other tests get the usual form back)."""
    assert stack.emulator is not None
    control = f"{stack.emulator.base_url}/_emulator/event-envelope"
    httpx.post(control, json={"form": "v0-beta"}, timeout=30).raise_for_status()
    yield
    httpx.post(control, json={"form": "v0"}, timeout=30).raise_for_status()


def test_registrations_in_the_seed_apps_envelope_reach_the_synced_and_typed_tables(
    stack: Stack, db: psycopg.Connection[Any], seed_app_envelope: None
) -> None:
    assert stack.emulator is not None
    response = httpx.post(
        f"{stack.emulator.base_url}/_emulator/register", json={"count": 3}, timeout=30
    )
    response.raise_for_status()
    entity_ids: list[str] = response.json()["ids"]

    progress = wait_until_synced(stack, entity_ids, timeout=SYNC_TIMEOUT_SECONDS)

    assert (progress.synced, progress.dead) == (3, 0)
    events = db.execute(
        "SELECT webhook_id, resource_id, message_type, state, body FROM benchsync.inbox"
        " WHERE resource_id = ANY(%s)",
        [entity_ids],
    ).fetchall()
    assert sorted(resource_id for _, resource_id, *_ in events) == sorted(entity_ids)
    for _, _, message_type, state, body in events:
        assert (message_type, state) == ("v2.entity.registered", "synced")
        assert json.loads(body)["message"]["type"] == "v0-beta.event.created"  # as received
    sources = {resource_id: webhook_id for webhook_id, resource_id, *_ in events}
    synced = dict(
        db.execute(
            "SELECT benchling_api_id, source_event FROM synced_benchling_data"
            " WHERE benchling_api_id = ANY(%s)",
            [entity_ids],
        ).fetchall()
    )
    assert synced == sources  # each row written by the sync of its wrapped webhook
    assert sorted(typed_rows(db, entity_ids)) == sorted(entity_ids)

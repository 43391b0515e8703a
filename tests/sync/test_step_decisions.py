"""The snapshot step's plain decisions, without Dagster: when a step that calls Benchling is
tried again, and what becomes of a batch's events whose entity is not stored."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

import httpx
import pytest

from benchsync_dagster import batch_events
from benchsync_dagster.step_retries import (
    OUTAGE_RETRIES,
    OUTAGE_RETRY_CAP_SECONDS,
    RETRY_DELAY_SECONDS,
    retry_after,
)
from tests.support.webhooks import envelope
from webhook_sensor_bridge.events import parse_webhook
from webhook_sensor_bridge.inbox.rows import Envelope, InboxRow


def _event(webhook_id: str, resource_id: str | None) -> InboxRow:
    """The inbox's row of an entity-registered webhook naming ``resource_id`` (or none)."""
    message = {"resourceId": resource_id} if resource_id else {"resourceId": None}
    recorded = parse_webhook(webhook_id, envelope(**message))
    return InboxRow(
        **{field.name: getattr(recorded, field.name) for field in fields(Envelope)},
        txid=1,
        seq=int(webhook_id[-1]),
        state="pending",
        received_at=datetime(2026, 12, 1, tzinfo=UTC),
        attempts=0,
    )


@pytest.mark.parametrize(("retry", "jitter", "wait"), [(1, 0.0, 2.0), (2, 1.0, 8.0), (3, -1, 12.0)])
def test_an_ordinary_error_is_retried_three_times_with_exponential_waits(
    retry: int, jitter: float, wait: float
) -> None:
    decided = retry_after(ValueError("a bad answer"), retry, jitter)
    assert (decided.max_retries, decided.seconds_to_wait, decided.outage) == (3, wait, False)


def test_an_outage_is_waited_out_longer_each_wait_capped() -> None:
    unavailable = httpx.ConnectError("connection refused")
    first, late = retry_after(unavailable, 1, 0.0), retry_after(unavailable, 10, 0.0)
    assert first.outage and first.max_retries == OUTAGE_RETRIES
    assert first.seconds_to_wait == RETRY_DELAY_SECONDS
    assert late.seconds_to_wait == OUTAGE_RETRY_CAP_SECONDS


def test_events_whose_entity_is_not_stored_are_dead_lettered_or_ignored_with_the_reason() -> None:
    events = [
        _event("msg_1", "bfi_gone"),
        _event("msg_2", "bfi_bad"),
        _event("msg_3", None),
        _event("msg_4", "bfi_other"),
        _event("msg_5", "bfi_fine"),
        _event("msg_6", "bfi_other"),
    ]
    wanted = batch_events.wanted_by_event(events)

    unsynced = batch_events.unsynced(
        events,
        wanted,
        refused={wanted["msg_1"]: "Benchling answered 404 for bfi_gone"},
        malformed={"bfi_bad": "no modifiedAt"},
        not_mirrored={"bfi_other": "schema ts_other is not mirrored"},
    )

    assert unsynced.dead == {
        "Benchling answered 404 for bfi_gone": ["msg_1"],
        "no modifiedAt": ["msg_2"],
    }
    assert unsynced.without_entity == ["msg_3"]
    assert unsynced.ignored == [("schema ts_other is not mirrored", ["msg_4", "msg_6"])]
    assert unsynced.dead_count == 2


def test_a_batch_names_each_entity_once_with_its_newest_event() -> None:
    events = [_event("msg_1", "bfi_a"), _event("msg_2", "bfi_b"), _event("msg_3", "bfi_a")]
    ids, sources = batch_events.batch_entities(events, ["bfi_c", "bfi_b"])
    assert ids == ["bfi_a", "bfi_b", "bfi_c"]
    assert sources == {"bfi_a": "msg_3", "bfi_b": "msg_2"}

"""Reading a webhook's envelope (no database): what becomes a column, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.webhooks import envelope
from webhook_sensor_bridge.events import MalformedWebhook, parse_webhook


def test_the_envelope_fields_become_the_event() -> None:
    event = parse_webhook("msg_1", envelope(resourceId="bfi_1"))

    assert (event.webhook_id, event.message_type, event.channel) == (
        "msg_1",
        "v2.entity.registered",
        "events",
    )
    assert (event.resource_id, event.schema_id, event.tenant_id) == ("bfi_1", "ts_test", "ten_test")
    assert (event.app_id, event.app_definition_id) == ("app_test", "appdef_test")
    assert event.base_url == "https://tenant.benchling.com"
    assert event.created_at == datetime(2026, 11, 28, 1, 2, 3, 456000, tzinfo=UTC)
    assert event.ignored_reason is None


def test_fields_of_the_wrong_type_are_left_empty() -> None:
    event = parse_webhook("msg_1", envelope(resourceId=7, schema="ts_1", createdAt="yesterday"))

    assert (event.resource_id, event.schema_id, event.created_at) == (None, None, None)


def test_escaped_text_that_postgres_can_store_is_accepted() -> None:
    event = parse_webhook("msg_1", envelope(resourceId="bfi_\u00e9\u4e2d"))  # sent as \u escapes

    assert event.resource_id == "bfi_\u00e9\u4e2d"


@pytest.mark.parametrize(
    ("field", "value"),
    [("resourceId", "bfi_\x00"), ("type", "v2.entity.registered\x00"), ("id", "evt_\ud800")],
    ids=["nul-in-resource-id", "nul-in-type", "lone-surrogate-in-id"],
)
def test_a_field_postgres_cannot_store_is_malformed(field: str, value: str) -> None:
    with pytest.raises(MalformedWebhook, match=r"NUL|Unicode"):
        message: dict[str, Any] = {field: value}
        parse_webhook("msg_1", envelope(**message))


def test_a_webhook_id_postgres_cannot_store_is_malformed() -> None:
    with pytest.raises(MalformedWebhook, match="webhook-id"):
        parse_webhook("msg_\x00", envelope())

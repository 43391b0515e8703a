"""Reading a webhook's envelope: what becomes a column, and what is refused; and the App
signals a tenant sends (only a type), recorded through the bridge."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from tests.support.conformance import webhook_errors
from tests.support.tenant import Tenant
from tests.support.webhooks import app_signal, envelope, wrapped_envelope
from webhook_sensor_bridge.events import (
    MAX_WEBHOOK_ID_LENGTH,
    MalformedWebhook,
    Origin,
    parse_webhook,
)
from webhook_sensor_bridge.inbox.event_types import APP_CONFIGURATION_UPDATED


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


def test_a_webhook_id_too_long_for_the_inbox_key_is_malformed() -> None:
    longest = "msg_" + "a" * (MAX_WEBHOOK_ID_LENGTH - 4)

    assert parse_webhook(longest, envelope()).webhook_id == longest
    with pytest.raises(MalformedWebhook, match="webhook-id is over"):
        parse_webhook(longest + "a", envelope())


@pytest.mark.parametrize(
    "created_at",
    [
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
        "0001-01-01T00:00:00Z",  # year 0 in a time zone west of UTC
        "9999-12-31T23:59:59.999999Z",  # year 10000 east of it
    ],
)
def test_a_created_at_that_could_not_be_read_back_in_every_zone_is_left_empty(
    created_at: str,
) -> None:
    event = parse_webhook("msg_1", envelope(createdAt=created_at))

    assert event.created_at is None


def test_a_created_at_a_day_inside_the_readable_years_is_kept() -> None:
    event = parse_webhook("msg_1", envelope(createdAt="0001-01-02T00:00:00Z"))

    assert event.created_at == datetime(1, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize("base_url", ["http://[::1", "https://a\uff03b.benchling.com"])
def test_a_base_url_that_is_no_url_is_from_another_tenant(base_url: str) -> None:
    ours = Origin(tenant_url="https://tenant.benchling.com")

    event = parse_webhook("msg_1", envelope(outer={"baseURL": base_url}), ours)

    assert event.ignored_reason is not None and "from another tenant" in event.ignored_reason


def test_a_webhook_for_another_app_definition_is_ignored() -> None:
    # The JWKS may hold a key that signs for other App definitions too (or verification is
    # off): the body's own appDefinition.id decides.
    ours = Origin(app_definition_id="appdef_ours")

    event = parse_webhook("msg_1", envelope(), ours, signature_verified=True)

    assert event.ignored_reason is not None
    assert "for another App definition ('appdef_test')" in event.ignored_reason
    assert "APP_DEFINITION_ID" in event.ignored_reason
    assert not event.origin_verified


@pytest.mark.parametrize(
    ("origin", "signature_verified", "verified"),
    [
        (Origin(app_definition_id="appdef_test"), True, True),
        (Origin("https://tenant.benchling.com", "app_test", "appdef_test"), True, True),
        (Origin(app_definition_id="appdef_test"), False, False),  # verification skipped
        (Origin(), True, False),  # nobody said which App definition is ours
        (Origin(app_definition_id="appdef_ours"), True, False),
        (Origin("https://other.benchling.com", app_definition_id="appdef_test"), True, False),
        (Origin(app_id="app_ours", app_definition_id="appdef_test"), True, False),
    ],
    ids=[
        "signed-our-definition",
        "signed-our-definition-tenant-installation",
        "unsigned",
        "definition-unknown",
        "another-definition",
        "another-tenant",
        "another-installation",
    ],
)
def test_the_origin_is_verified_only_for_a_signed_webhook_of_ours(
    origin: Origin, signature_verified: bool, verified: bool
) -> None:
    event = parse_webhook("msg_1", envelope(), origin, signature_verified=signature_verified)

    assert event.origin_verified is verified


def test_the_seed_apps_wrapped_registration_is_recorded_as_the_event_itself() -> None:
    fields: dict[str, Any] = {
        "id": "evt_MQjr2hnJ7WLS",
        "createdAt": "2024-04-04T03:48:09.962068+00:00",
        "resourceId": "bfi_J81Hy0ih",
        "schema": {"id": "ts_X3i4k1M0"},
    }
    wrapped = wrapped_envelope(**fields)
    unwrapped = envelope(**fields)

    event = parse_webhook("msg_1", wrapped)

    assert replace(event, body="") == replace(parse_webhook("msg_1", unwrapped), body="")
    assert event.message_type == "v2.entity.registered"
    assert (event.message_id, event.resource_id, event.schema_id) == (
        "evt_MQjr2hnJ7WLS",
        "bfi_J81Hy0ih",
        "ts_X3i4k1M0",
    )
    assert event.created_at == datetime(2024, 4, 4, 3, 48, 9, 962068, tzinfo=UTC)
    assert event.body == wrapped.decode()  # the raw body, as received
    assert event.ignored_reason is None


def test_a_wrapped_event_of_a_type_not_synced_is_ignored_saying_so() -> None:
    event = parse_webhook("msg_1", wrapped_envelope("v2.assayRun.created"))

    assert event.message_type == "v2.assayRun.created"
    assert event.ignored_reason == (
        "message type v2.assayRun.created is not synced"
        " (delivered wrapped in v0-beta.event.created)"
    )


@pytest.mark.parametrize(
    "message",
    [
        {"type": "v0-beta.event.created"},
        {"type": "v0-beta.event.created", "event": None},
        {"type": "v0-beta.event.created", "event": ["v2.entity.registered"]},
        {"type": "v0-beta.event.created", "event": "v2.entity.registered"},
        {"type": "v0-beta.event.created", "event": {"resourceId": "bfi_1"}},
        {"type": "v0-beta.event.created", "event": {"eventType": ""}},
        {"type": "v0-beta.event.created", "event": {"eventType": 7}},
        {"type": "v0-beta.event.created", "event": {"eventType": ["v2.entity.registered"]}},
        # The unwrapped form's field name does not stand in for eventType.
        {"type": "v0-beta.event.created", "event": {"type": "v2.entity.registered"}},
    ],
    ids=[
        "no-event",
        "event-null",
        "event-a-list",
        "event-a-string",
        "no-event-type",
        "event-type-empty",
        "event-type-a-number",
        "event-type-a-list",
        "type-instead-of-event-type",
    ],
)
def test_a_malformed_wrapper_is_malformed(message: dict[str, Any]) -> None:
    body = json.dumps({**json.loads(envelope()), "message": message}).encode()

    with pytest.raises(MalformedWebhook, match=r"v0-beta\.event\.created"):
        parse_webhook("msg_1", body)


def test_a_configuration_update_with_only_its_type_is_recorded_for_the_sync() -> None:
    body = app_signal(APP_CONFIGURATION_UPDATED)
    assert not webhook_errors(body)[1]  # as Benchling's webhook document has it

    event = parse_webhook("msg_1", body)

    assert (event.message_type, event.channel) == (APP_CONFIGURATION_UPDATED, "app_signals")
    assert (event.message_id, event.resource_id, event.schema_id, event.created_at) == (
        None,
        None,
        None,
        None,
    )
    assert event.ignored_reason is None  # pending: the sync reads the configuration again


@pytest.mark.parametrize(
    "message_type",
    ["v2.app.installed", "v2.app.activateRequested", "v2.app.deactivated", "v0.app.deactivated"],
)
@pytest.mark.parametrize("channel", ["app_signals", "events"])
def test_a_lifecycle_signal_is_acknowledged_and_ignored(message_type: str, channel: str) -> None:
    signal = json.loads(app_signal(message_type))
    body = json.dumps({**signal, "channel": channel}).encode()

    event = parse_webhook("msg_1", body)

    assert event.message_type == message_type
    assert event.ignored_reason == f"app lifecycle signal {message_type} starts no sync"


def test_the_app_signals_a_tenant_sends_reach_the_inbox(tenant: Tenant) -> None:
    """Over HTTP, signed by the emulator: the configuration update waits for the sync, the
    lifecycle signals are recorded ignored; none is refused for what it does not carry."""
    signals = ["v2.app.installed", "v2.app.activateRequested", APP_CONFIGURATION_UPDATED]
    signals.append("v2.app.deactivated")
    for signal in signals:
        tenant.control("app-signal", {"type": signal})
    assert tenant.emulator.wait_for_webhooks(timeout=30)
    delivered = tenant.emulator.delivery.log()
    assert [(record.acknowledged, record.failed) for record in delivered] == [(1, 0)] * 4

    with psycopg.connect(tenant.database_url) as connection:
        rows = connection.execute(
            "SELECT message_type, state, resource_id FROM benchsync.inbox"
        ).fetchall()
    # Delivered by several workers: in no promised order.
    assert sorted(rows) == sorted(
        [
            ("v2.app.installed", "ignored", None),
            ("v2.app.activateRequested", "ignored", None),
            (APP_CONFIGURATION_UPDATED, "pending", None),
            ("v2.app.deactivated", "ignored", None),
        ]
    )

"""Webhook bodies shaped like Benchling's, and looks into the inbox that the bridge writes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
from flask import Flask

from webhook_sensor_bridge.app import WebhookReceiver


def close_pool(app: Flask) -> None:
    receiver: WebhookReceiver = app.extensions["webhook_receiver"]
    receiver.pool.close()


# The App definition every envelope() names.
ENVELOPE_APP_DEFINITION_ID = "appdef_test"


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def envelope(
    message_type: str = "v2.entity.registered",
    channel: str = "events",
    *,
    outer: Mapping[str, Any] | None = None,
    **message: Any,
) -> bytes:
    """A webhook body shaped like Benchling's ``WebhookEnvelopeV0``; ``outer`` replaces
    envelope fields, ``message`` the message's."""
    return json.dumps(
        {
            "version": "0",
            "baseURL": "https://tenant.benchling.com",
            "tenantId": "ten_test",
            "app": {"id": "app_test"},
            "appDefinition": {"id": ENVELOPE_APP_DEFINITION_ID, "versionNumber": "0.1.0"},
            "channel": channel,
            "message": {
                "id": f"evt_{uuid.uuid4().hex[:12]}",
                "createdAt": "2026-11-28T01:02:03.456Z",
                "type": message_type,
                "schema": {"id": "ts_test"},
                "resourceId": f"bfi_{uuid.uuid4().hex[:8]}",
                "deprecated": False,
                "excludedProperties": [],
                **message,
            },
            **(outer or {}),
        }
    ).encode()


def app_signal(message_type: str = "v2-beta.app.configuration.updated") -> bytes:
    """A webhook about the App itself, as Benchling sends it: on the ``app_signals`` channel,
    its message only ``type`` and ``deprecated`` (``LifecycleConfigurationUpdateWebhookV2Beta``,
    ``AppInstalledWebhookV2`` …): no id, resourceId, schema or createdAt."""
    signal = json.loads(envelope(channel="app_signals"))
    signal["message"] = {"type": message_type, "deprecated": False}
    return json.dumps(signal).encode()


def wrapped_envelope(
    event_type: str = "v2.entity.registered",
    *,
    outer: Mapping[str, Any] | None = None,
    **event: Any,
) -> bytes:
    """A webhook body in the early-access form Benchling's example App subscribes to (its test
    fixture ``entity_registered_webhook.json``): the event wrapped in a ``v0-beta.event.created``
    message; ``outer`` replaces envelope fields, ``event`` the wrapped event's."""
    unwrapped = json.loads(envelope(outer=outer))
    message = unwrapped["message"]
    del message["type"]
    unwrapped["message"] = {
        "event": {"eventType": event_type, **message, **event},
        "type": "v0-beta.event.created",
        "deprecated": False,
        "excludedProperties": [],
    }
    return json.dumps(unwrapped).encode()


def inbox_row(database_url: str, webhook_id: str) -> dict[str, Any] | None:
    with psycopg.connect(database_url) as connection:
        return inbox_row_on(connection, webhook_id)


def inbox_row_on(connection: psycopg.Connection[Any], webhook_id: str) -> dict[str, Any] | None:
    """The inbox row of ``webhook_id``, column by column, read on ``connection``."""
    cursor = connection.execute(
        "SELECT * FROM benchsync.inbox WHERE webhook_id = %s", (webhook_id,)
    )
    row = cursor.fetchone()
    if row is None:
        return None
    assert cursor.description is not None
    return {column.name: value for column, value in zip(cursor.description, row, strict=True)}


def inbox_total(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT count(*) FROM benchsync.inbox").fetchone()
    assert row is not None
    return int(row[0])

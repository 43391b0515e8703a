"""What a verified webhook says: its envelope's fields, and whether benchsync syncs its type."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from webhook_sensor_bridge.inbox import InboxEvent
from webhook_sensor_bridge.inbox.event_types import ignored_reason


class MalformedWebhook(ValueError):
    """The body is not a Benchling webhook envelope (HTTP 400)."""


def parse_webhook(webhook_id: str, body: bytes) -> InboxEvent:
    """Read the envelope ``{"channel", "message": {"type", ...}, "app": {...}, ...}``."""
    try:
        text = body.decode("utf-8")
        envelope = json.loads(text)
    # UnicodeDecodeError and JSONDecodeError are ValueErrors; absurd nesting is a RecursionError.
    except (ValueError, RecursionError) as error:
        raise MalformedWebhook(f"the body is not UTF-8 JSON: {error}") from error
    if not isinstance(envelope, dict) or not isinstance(envelope.get("message"), dict):
        raise MalformedWebhook("the body is not a webhook envelope: no 'message' object")
    message: dict[str, Any] = envelope["message"]
    message_type = _text(message, "type")
    if not message_type:
        raise MalformedWebhook("the webhook envelope has no message type")
    channel = _text(envelope, "channel")
    event = InboxEvent(
        webhook_id=_storable(webhook_id, "webhook-id"),
        message_type=message_type,
        channel=channel,
        message_id=_text(message, "id"),
        resource_id=_text(message, "resourceId"),
        schema_id=_text(_object(message, "schema"), "id"),
        app_id=_text(_object(envelope, "app"), "id"),
        app_definition_id=_text(_object(envelope, "appDefinition"), "id"),
        tenant_id=_text(envelope, "tenantId"),
        base_url=_text(envelope, "baseURL"),
        created_at=_timestamp(_text(message, "createdAt")),
        body=text,
        ignored_reason=ignored_reason(message_type, channel),
    )
    # Valid UTF-8 JSON can put a NUL or a lone surrogate into a string only with a \u escape.
    if "\\u" in text:
        for name, value in vars(event).items():
            if isinstance(value, str):
                _storable(value, name)
    return event


def _object(container: dict[str, Any], key: str) -> dict[str, Any]:
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def _text(container: dict[str, Any], key: str) -> str | None:
    value = container.get(key)
    return value if isinstance(value, str) else None


def _storable(value: str, name: str) -> str:
    # Postgres text holds neither NUL nor lone surrogates; Benchling sends neither.
    try:
        value.encode()
    except UnicodeEncodeError as error:
        raise MalformedWebhook(f"{name} is not valid Unicode text") from error
    if "\x00" in value:
        raise MalformedWebhook(f"{name} holds a NUL character")
    return value


def _timestamp(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None  # kept in the raw body; a bad createdAt is no reason to lose the event
    return parsed if parsed.tzinfo is not None else None

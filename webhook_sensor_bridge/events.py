"""What a verified webhook says: its envelope's fields, and whether benchsync syncs its type."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from webhook_sensor_bridge.inbox import InboxEvent
from webhook_sensor_bridge.inbox.event_types import ignored_reason


class MalformedWebhook(ValueError):
    """The body is not a Benchling webhook envelope (HTTP 400)."""


@dataclass(frozen=True)
class Origin:
    """This deployment's tenant and App installation, where known. A signature proves only the
    App definition, which every tenant installing the App shares: a webhook from another
    tenant or installation is recorded as ignored, never synced."""

    tenant_url: str | None = None
    app_id: str | None = None

    def foreign_reason(self, base_url: str | None, app_id: str | None) -> str | None:
        """Why a webhook from ``base_url`` for installation ``app_id`` is not ours, or None."""
        if self.tenant_url and _site(base_url) != _site(self.tenant_url):
            return f"from another tenant ({base_url!r}), not BENCHLING_TENANT_URL's"
        if self.app_id and app_id != self.app_id:
            return f"for another App installation ({app_id!r}), not BENCHLING_APP_ID's"
        return None


def _site(url: str | None) -> tuple[str, str]:
    parts = urlsplit(url or "")
    return parts.scheme.lower(), parts.netloc.lower()


def parse_webhook(webhook_id: str, body: bytes, origin: Origin = Origin()) -> InboxEvent:
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
    app_id = _text(_object(envelope, "app"), "id")
    base_url = _text(envelope, "baseURL")
    event = InboxEvent(
        webhook_id=_storable(webhook_id, "webhook-id"),
        message_type=message_type,
        channel=channel,
        message_id=_text(message, "id"),
        resource_id=_text(message, "resourceId"),
        schema_id=_text(_object(message, "schema"), "id"),
        app_id=app_id,
        app_definition_id=_text(_object(envelope, "appDefinition"), "id"),
        tenant_id=_text(envelope, "tenantId"),
        base_url=base_url,
        created_at=_timestamp(_text(message, "createdAt")),
        body=text,
        ignored_reason=origin.foreign_reason(base_url, app_id)
        or ignored_reason(message_type, channel),
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

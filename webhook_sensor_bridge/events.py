"""What a verified webhook says: its envelope's fields, and whether benchsync syncs its type."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from webhook_sensor_bridge.inbox import InboxEvent
from webhook_sensor_bridge.inbox.event_types import ignored_reason


class MalformedWebhook(ValueError):
    """The body is not a Benchling webhook envelope (HTTP 400)."""


# Benchling's early-access envelope for events (the manifest's ``type: v0-beta.event.created``
# with an ``eventType``, as Benchling's example App subscribes): the event sits in
# ``message.event``, its name under ``eventType``.
BETA_EVENT_CREATED = "v0-beta.event.created"


@dataclass(frozen=True)
class Origin:
    """This deployment's App definition, tenant and App installation, where known. A signature
    proves only that a key of the JWKS signed the body, and every tenant installing the App
    shares its definition: a webhook for another App definition, tenant or installation is
    recorded as ignored, never synced."""

    tenant_url: str | None = None
    app_id: str | None = None
    app_definition_id: str | None = None

    def foreign_reason(
        self, base_url: str | None, app_id: str | None, app_definition_id: str | None
    ) -> str | None:
        """Why a webhook from ``base_url`` for installation ``app_id`` of the App definition
        ``app_definition_id`` is not ours, or None."""
        if self.app_definition_id and app_definition_id != self.app_definition_id:
            return f"for another App definition ({app_definition_id!r}), not APP_DEFINITION_ID's"
        theirs = _site(base_url)
        if self.tenant_url and (theirs is None or theirs != _site(self.tenant_url)):
            return f"from another tenant ({base_url!r}), not BENCHLING_TENANT_URL's"
        if self.app_id and app_id != self.app_id:
            return f"for another App installation ({app_id!r}), not BENCHLING_APP_ID's"
        return None


def _site(url: str | None) -> tuple[str, str] | None:
    """A URL's scheme and host, lower-cased; None for text that is no URL (``http://[::1``)."""
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return None
    return parts.scheme.lower(), parts.netloc.lower()


def parse_webhook(
    webhook_id: str, body: bytes, origin: Origin = Origin(), signature_verified: bool = False
) -> InboxEvent:
    """Read the envelope ``{"channel", "message": {"type", ...}, "app": {...}, ...}``, or the
    early-access one whose message wraps the event (``{"type": "v0-beta.event.created",
    "event": {"eventType", ...}}``), which is recorded as the event itself. Only ``type`` is
    required of a message: an App signal (lifecycle, configuration update) carries nothing
    else, and its id, resource, schema and time are recorded empty.

    The event's origin is verified when its signature was (``signature_verified``), ``origin``
    knows the App definition and the envelope is none of ``origin``'s foreign ones: only such an
    event may tell the sync its App installation (``inbox.latest_app_id``)."""
    try:
        text = body.decode("utf-8")
        envelope = json.loads(text)
    # UnicodeDecodeError and JSONDecodeError are ValueErrors; absurd nesting is a RecursionError.
    except (ValueError, RecursionError) as error:
        raise MalformedWebhook(f"the body is not UTF-8 JSON: {error}") from error
    if not isinstance(envelope, dict) or not isinstance(envelope.get("message"), dict):
        raise MalformedWebhook("the body is not a webhook envelope: no 'message' object")
    message: dict[str, Any] = envelope["message"]
    message_type, fields = _event_of(message)
    channel = _text(envelope, "channel")
    app_id = _text(_object(envelope, "app"), "id")
    app_definition_id = _text(_object(envelope, "appDefinition"), "id")
    base_url = _text(envelope, "baseURL")
    foreign_reason = origin.foreign_reason(base_url, app_id, app_definition_id)
    not_synced = ignored_reason(message_type, channel)
    if not_synced and fields is not message:
        not_synced = f"{not_synced} (delivered wrapped in {BETA_EVENT_CREATED})"
    event = InboxEvent(
        webhook_id=_storable(_short_enough(webhook_id), "webhook-id"),
        message_type=message_type,
        channel=channel,
        message_id=_text(fields, "id"),
        resource_id=_text(fields, "resourceId"),
        schema_id=_text(_object(fields, "schema"), "id"),
        app_id=app_id,
        app_definition_id=app_definition_id,
        tenant_id=_text(envelope, "tenantId"),
        base_url=base_url,
        created_at=_timestamp(_text(fields, "createdAt")),
        body=text,
        ignored_reason=foreign_reason or not_synced,
        origin_verified=signature_verified
        and origin.app_definition_id is not None
        and foreign_reason is None,
    )
    # Valid UTF-8 JSON can put a NUL or a lone surrogate into a string only with a \u escape.
    if "\\u" in text:
        for name, value in vars(event).items():
            if isinstance(value, str):
                _storable(value, name)
    return event


def _event_of(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event's type and the object holding its other fields (``id``, ``resourceId``,
    ``schema``, ``createdAt``): the message itself, or the event a ``v0-beta.event.created``
    message wraps."""
    message_type = _text(message, "type")
    if not message_type:
        raise MalformedWebhook("the webhook envelope has no message type")
    if message_type != BETA_EVENT_CREATED:
        return message_type, message
    event = message.get("event")
    if not isinstance(event, dict):
        raise MalformedWebhook(f"a {BETA_EVENT_CREATED} message has no 'event' object")
    event_type = _text(event, "eventType")
    if not event_type:
        raise MalformedWebhook(f"the event of a {BETA_EVENT_CREATED} message has no eventType")
    return event_type, event


def _object(container: dict[str, Any], key: str) -> dict[str, Any]:
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def _text(container: dict[str, Any], key: str) -> str | None:
    value = container.get(key)
    return value if isinstance(value, str) else None


# Benchling's webhook ids are some thirty characters. The inbox's primary key index refuses a
# key of more than 2,704 bytes (a third of a page), and a character takes up to four.
MAX_WEBHOOK_ID_LENGTH = 256


def _short_enough(webhook_id: str) -> str:
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
        raise MalformedWebhook(f"webhook-id is over {MAX_WEBHOOK_ID_LENGTH} characters long")
    return webhook_id


def _storable(value: str, name: str) -> str:
    # Postgres text holds neither NUL nor lone surrogates; Benchling sends neither.
    try:
        value.encode()
    except UnicodeEncodeError as error:
        raise MalformedWebhook(f"{name} is not valid Unicode text") from error
    if "\x00" in value:
        raise MalformedWebhook(f"{name} holds a NUL character")
    return value


# psycopg reads a timestamptz back as a datetime (years 1 to 9999) in the session's time zone:
# a moment within a day of either end may not be readable in every zone, and one row that is
# not stops every reader of the inbox.
_READABLE_MOMENTS = (datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC))


def _timestamp(value: str | None) -> datetime | None:
    # A bad createdAt is kept in the raw body only: it is no reason to lose the event.
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        in_utc = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):  # no timestamp, or one past year 9999 or before 1 in UTC
        return None
    earliest, latest = _READABLE_MOMENTS
    return parsed if in_utc is not None and earliest <= in_utc <= latest else None

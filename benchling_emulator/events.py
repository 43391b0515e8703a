"""Tenant events, and the webhook envelope Benchling wraps them in (``WebhookEnvelopeV0``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from benchling_emulator.clock import isoformat
from benchling_emulator.settings import EventEnvelope

ENTITY_REGISTERED = "v2.entity.registered"
CUSTOM_ENTITY_CREATED = "v3.customEntity.created"
CUSTOM_ENTITY_UPDATED = "v3.customEntity.updated"
APP_CONFIGURATION_UPDATED = "v2-beta.app.configuration.updated"
BETA_EVENT_CREATED = "v0-beta.event.created"


@dataclass(frozen=True)
class TenantEvent:
    id: str  # evt_…
    type: str
    created_at: datetime
    resource_id: str
    schema_id: str
    properties: tuple[str, ...] | None = None  # what an update changed (v3 updates only)


@dataclass(frozen=True)
class AppInstallation:
    """Who the webhooks are addressed to, as every envelope names it."""

    base_url: str
    tenant_id: str
    app_id: str
    app_definition_id: str
    app_version: str = "0.1.0"


def envelope(
    event: TenantEvent, installation: AppInstallation, form: EventEnvelope = "v0"
) -> dict[str, Any]:
    """The webhook for ``event``; in the ``v0-beta`` form a registration is wrapped as
    Benchling's early-access event webhooks were (its example App's test fixtures): the event
    in ``message.event``, its name under ``eventType``."""
    message: dict[str, Any] = {
        "id": event.id,
        "createdAt": isoformat(event.created_at),
        "type": event.type,
        "schema": {"id": event.schema_id},
        "resourceId": event.resource_id,
        "deprecated": False,
        "excludedProperties": [],
    }
    if event.properties is not None:
        message["properties"] = list(event.properties)
    if form == "v0-beta" and event.type == ENTITY_REGISTERED:
        message = {
            "event": {"eventType": message.pop("type"), **message},
            "type": BETA_EVENT_CREATED,
            "deprecated": False,
            "excludedProperties": [],
        }
    return {
        "version": "0",
        "baseURL": installation.base_url,
        "tenantId": installation.tenant_id,
        "app": {"id": installation.app_id},
        "appDefinition": {
            "id": installation.app_definition_id,
            "versionNumber": installation.app_version,
        },
        # Benchling sends what concerns the App itself on the app-signals channel.
        "channel": "app_signals" if event.type == APP_CONFIGURATION_UPDATED else "events",
        "message": message,
    }


def envelope_body(
    event: TenantEvent, installation: AppInstallation, form: EventEnvelope = "v0"
) -> bytes:
    """The raw webhook body; it is signed as these exact bytes."""
    return json.dumps(envelope(event, installation, form), separators=(",", ":")).encode()

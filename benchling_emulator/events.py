"""Tenant events, and the webhook envelope Benchling wraps them in (``WebhookEnvelopeV0``).

Each message has the shape Benchling's webhook document (benchling-api-client's
``webhooks/v0/stable/openapi.yaml``) gives its type: ``v2.entity.registered`` names the
entity's schema (``EntityRegisteredWebhookV2``); v3 entity events carry their ``stability``
and no schema (``V3EventBase``); what concerns the App itself (its lifecycle, its
configuration) says only its ``type`` and ``deprecated``, on the ``app_signals`` channel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from benchling_emulator.clock import isoformat
from benchling_emulator.settings import EventEnvelope

ENTITY_REGISTERED = "v2.entity.registered"
APP_CONFIGURATION_UPDATED = "v2-beta.app.configuration.updated"
BETA_EVENT_CREATED = "v0-beta.event.created"
# The App lifecycle webhooks of the stable document (``AppInstalledWebhookV2`` …); Benchling
# sends v2.app.installed unasked to an App with a webhook URL.
APP_INSTALLED = "v2.app.installed"
APP_ACTIVATE_REQUESTED = "v2.app.activateRequested"
APP_DEACTIVATED = "v2.app.deactivated"
APP_LIFECYCLE_SIGNALS = (APP_INSTALLED, APP_ACTIVATE_REQUESTED, APP_DEACTIVATED)
APP_SIGNALS = (*APP_LIFECYCLE_SIGNALS, APP_CONFIGURATION_UPDATED)
# The stability every v3 event of the eight entity types has (``V3EventBase.stability``).
V3_STABILITY = "stable"


@dataclass(frozen=True)
class TenantEvent:
    """Something that happened to an entity: registered, created, updated."""

    id: str  # evt_…
    type: str
    created_at: datetime
    resource_id: str
    schema_id: str
    properties: tuple[str, ...] | None = None  # what an update changed (v3 updates only)


@dataclass(frozen=True)
class AppSignal:
    """A message about the App itself (one of ``APP_SIGNALS``): its type is all it says."""

    type: str


Event = TenantEvent | AppSignal


@dataclass(frozen=True)
class AppInstallation:
    """Who the webhooks are addressed to, as every envelope names it."""

    base_url: str
    tenant_id: str
    app_id: str
    app_definition_id: str
    app_version: str = "0.1.0"


def message(event: Event, form: EventEnvelope = "v0") -> dict[str, Any]:
    """The envelope's ``message`` for ``event``; in the ``v0-beta`` form a registration is
    wrapped as Benchling's early-access event webhooks were (its example App's test fixtures):
    the event in ``message.event``, its name under ``eventType``."""
    if isinstance(event, AppSignal):
        return {"type": event.type, "deprecated": False}
    if event.type.startswith("v3."):
        v3: dict[str, Any] = {
            "id": event.id,
            "createdAt": isoformat(event.created_at),
            "type": event.type,
            "resourceId": event.resource_id,
            "stability": V3_STABILITY,
            "deprecated": False,
        }
        if event.properties is not None:
            v3["properties"] = list(event.properties)
        return v3
    v2 = {
        "id": event.id,
        "createdAt": isoformat(event.created_at),
        "type": event.type,
        "schema": {"id": event.schema_id},
        "resourceId": event.resource_id,
        "deprecated": False,
        "excludedProperties": [],
    }
    if form == "v0-beta" and event.type == ENTITY_REGISTERED:
        return {
            "event": {"eventType": v2.pop("type"), **v2},
            "type": BETA_EVENT_CREATED,
            "deprecated": False,
            "excludedProperties": [],
        }
    return v2


def envelope(
    event: Event, installation: AppInstallation, form: EventEnvelope = "v0"
) -> dict[str, Any]:
    """The webhook for ``event``, as ``WebhookEnvelopeV0``."""
    return {
        "version": "0",
        "baseURL": installation.base_url,
        "tenantId": installation.tenant_id,
        "app": {"id": installation.app_id},
        "appDefinition": {
            "id": installation.app_definition_id,
            "versionNumber": installation.app_version,
        },
        "channel": "app_signals" if isinstance(event, AppSignal) else "events",
        "message": message(event, form),
    }


def envelope_body(event: Event, installation: AppInstallation, form: EventEnvelope = "v0") -> bytes:
    """The raw webhook body; it is signed as these exact bytes."""
    return json.dumps(envelope(event, installation, form), separators=(",", ":")).encode()

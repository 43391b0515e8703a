"""Control endpoints outside Benchling's API, under ``/_emulator``, for demos and tests."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from benchling_emulator.entity_types import ENTITY_TYPES
from benchling_emulator.errors import bad_request
from benchling_emulator.events import APP_SIGNALS
from benchling_emulator.request_body import json_object, string_list
from benchling_emulator.services import EmulatorServices, current_services
from benchling_emulator.settings import EVENT_ENVELOPES
from benchling_emulator.stats import busiest_window

control = Blueprint("control", __name__, url_prefix="/_emulator")

MAX_REGISTER_COUNT = 100_000


@control.post("/register")
def register() -> dict[str, Any]:
    """Create and register ``count`` entities; their webhooks follow at the paced rate.

    ``types`` (optional) names entity types (``dna_sequence`` …), taken in turn, or is ``"mix"``
    for all eight; the default is custom entities of the configured schema. ``schema_id``
    (optional, not with ``types``) asks for entities of that schema instead, such as one
    defined through ``PUT /_emulator/schemas/<schema_id>``."""
    body = json_object()
    count = body.get("count")
    if not isinstance(count, int) or not 1 <= count <= MAX_REGISTER_COUNT:
        raise bad_request(f"count must be an integer from 1 to {MAX_REGISTER_COUNT}")
    schema_id = body.get("schema_id")
    if schema_id is not None:
        if "types" in body:
            raise bad_request("give schema_id or types, not both")
        if not isinstance(schema_id, str) or not schema_id:
            raise bad_request("schema_id must be an entity schema id")
        return {"ids": current_services().tenant.create_registered_of_schema(count, schema_id)}
    types = body.get("types", ["custom_entity"])
    if types == "mix":
        types = list(ENTITY_TYPES)
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        raise bad_request('types must be a list of entity types, or "mix"')
    return {"ids": current_services().tenant.create_registered(count, types)}


@control.put("/schemas/<schema_id>")
def define_schema(schema_id: str) -> dict[str, Any]:
    """Create an entity schema or replace its definition, as a Benchling admin does; entities
    of it follow the new definition (``Tenant.define_schema``). Answers the schema's JSON."""
    return current_services().tenant.define_schema(schema_id, json_object()).to_json()


@control.get("/schemas")
def list_schemas() -> dict[str, Any]:
    """Every entity schema, as ``GET /api/v2/entity-schemas`` shows it, without paging."""
    return {"entitySchemas": [schema.to_json() for schema in current_services().tenant.schemas()]}


@control.post("/faults")
def faults() -> dict[str, Any]:
    """Change any of rate_limit, fail_rate, fail_statuses, entity_statuses (entity id → the
    status every call naming it gets), list_statuses (entity type → the status every list call
    of it gets), duplicate_rate, shuffle, bulk_get_missing."""
    body = json_object()
    services = current_services()
    try:
        if "rate_limit" in body:
            services.limiter.limit = int(body["rate_limit"])
        if "fail_rate" in body:
            services.faults.fail_rate = float(body["fail_rate"])
        if "duplicate_rate" in body:
            services.delivery.duplicate_rate = float(body["duplicate_rate"])
    except (TypeError, ValueError) as error:
        raise bad_request(str(error)) from None
    if "fail_statuses" in body:
        statuses = body["fail_statuses"]
        if not isinstance(statuses, list) or not statuses or set(statuses) - {429, 503}:
            raise bad_request("fail_statuses must be a non-empty list of 429 and/or 503")
        services.faults.statuses = tuple(statuses)
    if "entity_statuses" in body:
        statuses = body["entity_statuses"]
        if not isinstance(statuses, dict) or not all(
            isinstance(status, int) and 400 <= status <= 599 for status in statuses.values()
        ):
            raise bad_request("entity_statuses must map entity ids to statuses from 400 to 599")
        services.faults.entity_statuses = {str(key): value for key, value in statuses.items()}
    if "list_statuses" in body:
        statuses = body["list_statuses"]
        if not isinstance(statuses, dict) or not all(
            key in ENTITY_TYPES and isinstance(status, int) and 400 <= status <= 599
            for key, status in statuses.items()
        ):
            raise bad_request("list_statuses must map entity types to statuses from 400 to 599")
        services.faults.list_statuses = dict(statuses)
    if "shuffle" in body:
        services.delivery.shuffle = bool(body["shuffle"])
    if "bulk_get_missing" in body:
        if body["bulk_get_missing"] not in ("omit", "error"):
            raise bad_request("bulk_get_missing must be 'omit' or 'error'")
        services.tenant.bulk_get_missing = body["bulk_get_missing"]
    return fault_settings(services)


def fault_settings(services: EmulatorServices) -> dict[str, Any]:
    return {
        "rate_limit": services.limiter.limit,
        "fail_rate": services.faults.fail_rate,
        "fail_statuses": list(services.faults.statuses),
        "entity_statuses": dict(services.faults.entity_statuses),
        "list_statuses": dict(services.faults.list_statuses),
        "duplicate_rate": services.delivery.duplicate_rate,
        "shuffle": services.delivery.shuffle,
        "bulk_get_missing": services.tenant.bulk_get_missing,
    }


@control.post("/webhook-urls")
def webhook_urls() -> dict[str, Any]:
    """Replace the webhook URLs; webhooks already queued keep theirs."""
    services = current_services()
    services.delivery.urls = tuple(string_list(json_object(), "urls"))
    return {"urls": list(services.delivery.urls)}


@control.post("/event-envelope")
def event_envelope() -> dict[str, Any]:
    """Deliver the events published from now on in ``form``: ``v0`` (the event is the message)
    or ``v0-beta`` (registrations wrapped in ``v0-beta.event.created``, as for Benchling's
    example App). Webhooks already queued keep their form."""
    form = json_object().get("form")
    if form not in EVENT_ENVELOPES:
        raise bad_request(f"form must be one of {', '.join(EVENT_ENVELOPES)}")
    settings = current_services().settings
    settings.event_envelope = form
    return {"form": settings.event_envelope}


@control.post("/app-configuration")
def app_configuration() -> dict[str, Any]:
    """Link "Synced Field Data" to the field named ``synced_field``; its webhook follows."""
    field_name = json_object().get("synced_field")
    if not isinstance(field_name, str) or not field_name:
        raise bad_request("synced_field must name a field of the synced schema")
    current_services().tenant.link_synced_field(field_name)
    return {"synced_field": field_name}


@control.post("/app-signal")
def app_signal() -> dict[str, Any]:
    """Send the App signal ``type`` (``v2.app.installed``, ``v2.app.activateRequested``,
    ``v2.app.deactivated``, ``v2-beta.app.configuration.updated``) as Benchling does: its
    message says only its type, on the ``app_signals`` channel."""
    message_type = json_object().get("type")
    if not isinstance(message_type, str):
        raise bad_request(f"type must be one of {', '.join(APP_SIGNALS)}")
    current_services().tenant.signal(message_type)
    return {"type": message_type}


@control.post("/rotate-key")
def rotate_key() -> dict[str, Any]:
    return {"keyId": current_services().signer.rotate()}


@control.post("/access")
def access() -> dict[str, Any]:
    """Hide ``hidden`` (entity ids) from the App, as when its access to their project is taken
    away: lists answer 200 without them, gets and bulk gets as for unknown ids (404). Each call
    replaces the hidden set; ``{"hidden": []}`` restores access to everything."""
    return {"hidden": current_services().tenant.hide(string_list(json_object(), "hidden"))}


@control.post("/delete")
def delete() -> dict[str, Any]:
    return {"deleted": current_services().tenant.delete(string_list(json_object(), "ids"))}


@control.get("/stats")
def stats() -> dict[str, Any]:
    services = current_services()
    counted = services.stats
    return {
        "requests": counted.requests(),
        "responses_429": counted.count("responses_429"),
        "responses_503": counted.count("responses_503"),
        # The 429s the rate limit itself gave (responses_429 counts injected ones too).
        "rate_limited": counted.count("rate_limited"),
        # The most calls offered to the limit (admitted, faulted or refused) in any window.
        "busiest_window_requests": busiest_window(
            (logged.at for logged in counted.request_log()),
            services.settings.rate_window_seconds,
        ),
        "events_emitted": counted.count("events_emitted"),
        "webhooks_delivered": counted.count("webhooks_delivered"),
        "webhook_attempts_failed": counted.count("webhook_attempts_failed"),
        "webhooks_abandoned": counted.count("webhooks_abandoned"),
        "webhooks_pending": services.delivery.pending(),
        **fault_settings(services),
    }

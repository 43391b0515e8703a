"""Holding the emulator to Benchling's OpenAPI documents: every answer of ``/api/v2`` and every
webhook body, checked with ``tests.support.openapi``'s validators.

``ConformanceLog`` is put around every emulator the ``make_emulator`` fixture starts, so every
test that talks to an emulator checks what it was answered; the fixture fails the test on any
violation. Where the emulator must answer what the documents do not describe, the exception
lists below say so, each with its reason.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.support import openapi

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

API_PREFIX = "/api/v2"

# Error statuses Benchling answers on every route though an operation may not list them, and
# the error schema each is held to.
UNDOCUMENTED_STATUSES: dict[int, str] = {
    404: "NotFoundError",  # an unknown (or hidden) id: listed on some operations only
    400: "BadRequestError",  # a request that does not fit, on operations that list no 400
    403: "ForbiddenError",
}
# Any other error status (401 for a missing or expired bearer token, which the document lists
# for /token only; 429 for the rate limit, documented in prose; the 5xx and any status the
# tests inject on purpose) is held to Benchling's error shape: ``BaseError`` under ``error``.
ERROR_BODY = {
    "type": "object",
    "properties": {"error": {"$ref": "#/components/schemas/BaseError"}},
    "required": ["error"],
}

# Control routes (``/_emulator``) whose answers mirror Benchling's, and the schema they mirror.
CONTROL_MIRRORS: dict[tuple[str, str], str] = {
    ("GET", r"/_emulator/schemas"): "EntitySchemasPaginatedList",
    ("PUT", r"/_emulator/schemas/[^/]+"): "EntitySchema",
}

# Field types the REST document's ``FieldType`` names but none of the field definitions a
# schema's ``fieldDefinitions`` may hold admits (a gap in the document): such a definition is
# checked as the ``SimpleFieldDefinition`` it is shaped like (no schemaId, no options).
FIELD_TYPES_NO_DEFINITION_ADMITS: dict[str, str] = {
    "aa_part_link": "a link to an AA sequence's part; FieldType names it",
    "base_molecule_link": "a link to a base molecule; FieldType names it",
}

# A multi-valued field of numbers or booleans: the document's ``Field.value`` names arrays of
# strings only (multi-links, multi-dropdowns, multi-text), yet its ``isMulti`` is on every
# field type; the emulator serves such values as JSON numbers and booleans, as a single value
# of the type is, so that the typed tables' array columns are tested. Checked as strings.
MULTI_VALUES_NOT_STRINGS = "a multi-valued field of numbers or booleans (see above)"

# Webhook messages no document describes, the schema their event is held to, and why.
UNDOCUMENTED_MESSAGES: dict[str, tuple[str, str]] = {
    "v0-beta.event.created": (
        "V2EntityRegisteredEvent",
        "the early-access envelope Benchling's example App subscribes to (its test fixture"
        " entity_registered_webhook.json): no document names the wrapper; the event it wraps"
        " in message.event is the documented V2EntityRegisteredEvent (eventType, not type)",
    ),
}

# Message keys the stable document's schema does not name that Benchling sends, by the
# message type's version prefix, and why they are kept.
UNNAMED_MESSAGE_KEYS: dict[str, dict[str, str]] = {
    "v2": {
        "excludedProperties": "what was dropped for size: stable's MessageBase does not name it,"
        " the beta document's MessageBase requires it of the same v2 events, and stable's"
        " MessageBaseV0 names it",
    },
    "v0-beta": {
        "excludedProperties": "the beta document's MessageBase requires it (see v2)",
    },
}

# How many answers of one (operation, status) are checked per emulator: every shape is seen,
# and a burst of thousands of bulk gets does not spend the suite's minutes re-checking one.
CHECKS_PER_SHAPE = 25


@dataclass(frozen=True)
class Violation:
    where: str  # "GET /custom-entities/{custom_entity_id} 200", or "webhook v2.entity.registered"
    errors: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: " + "; ".join(self.errors[:5])


def response_errors(method: str, path: str, status: int, body: bytes) -> tuple[str, list[str]]:
    """Where an ``/api/v2`` answer (or a control route's mirror of one) belongs in the REST
    document, and how it breaks it."""
    document = openapi.rest()
    mirrored = _mirrored_schema(method, path)
    if mirrored is not None:
        where = f"{method} {path} (mirrors {mirrored})"
        instance = _with_documented_field_types(json.loads(body))
        return where, document.schema_errors(instance, mirrored)
    below = path.removeprefix(API_PREFIX)
    operation = document.operation(method, below)
    if operation is None:
        if status == 404:  # an unknown route: Benchling's error shape all the same
            return f"{method} (no such route) 404", _error_errors(body, "NotFoundError")
        return f"{method} {below}", [f"no operation of the stable document serves {below}"]
    where = f"{method} {operation.template} {status}"
    schema = _response_schema(operation, status)
    if schema is None:
        return where, [f"the document names no {status} answer of this operation"]
    try:
        instance = json.loads(body)
    except ValueError:
        return where, [f"the body is not JSON: {body[:80]!r}"]
    errors = document.errors(_with_documented_field_types(instance), schema)
    if status >= 400:
        errors += _unnamed_error_keys(instance)
    return where, errors


def _mirrored_schema(method: str, path: str) -> str | None:
    for (mirror_method, pattern), schema_name in CONTROL_MIRRORS.items():
        if method == mirror_method and re.fullmatch(pattern, path):
            return schema_name
    return None


def _with_documented_field_types(instance: Any) -> Any:
    """``instance`` with the field definitions of ``FIELD_TYPES_NO_DEFINITION_ADMITS`` shown as
    text fields, which share their shape, and multi-valued fields' values as strings
    (``MULTI_VALUES_NOT_STRINGS``)."""
    if isinstance(instance, list):
        return [_with_documented_field_types(item) for item in instance]
    if not isinstance(instance, dict):
        return instance
    copied = {key: _with_documented_field_types(value) for key, value in instance.items()}
    if copied.get("isMulti") is True and isinstance(copied.get("value"), list):
        copied["value"] = [
            json.dumps(item) if not isinstance(item, str) else item for item in copied["value"]
        ]  # MULTI_VALUES_NOT_STRINGS
    for definition in copied.get("fieldDefinitions") or []:
        if (
            isinstance(definition, dict)
            and definition.get("type") in FIELD_TYPES_NO_DEFINITION_ADMITS
        ):
            definition["type"] = "text"
    return copied


def _error_errors(body: bytes, schema_name: str) -> list[str]:
    instance = json.loads(body)
    errors = openapi.rest().schema_errors(instance, schema_name)
    return errors + _unnamed_error_keys(instance)


def _unnamed_error_keys(instance: Any) -> list[str]:
    """Keys of an error answer that no error schema of the document names."""
    if not isinstance(instance, dict):
        return []
    document = openapi.rest()
    top = {"error"} | document.named_properties("#/components/schemas/ListingError")
    # BaseError's keys, and the invalidId that NotFoundError adds inside the error.
    inner = document.named_properties("#/components/schemas/BaseError") | {"invalidId"}
    error = instance.get("error")
    unnamed = sorted(set(instance) - top)
    unnamed += sorted(f"error.{key}" for key in set(error or {}) - inner)
    return [f"keys no error schema names: {', '.join(unnamed)}"] if unnamed else []


def _response_schema(operation: openapi.Operation, status: int) -> Any:
    documented = operation.responses.get(str(status), operation.responses.get("default"))
    if documented is not None:
        return documented
    if status in UNDOCUMENTED_STATUSES:
        return {"$ref": f"#/components/schemas/{UNDOCUMENTED_STATUSES[status]}"}
    return ERROR_BODY if status >= 400 else None


def webhook_errors(body: bytes) -> tuple[str, list[str]]:
    """How a webhook body breaks ``WebhookEnvelopeV0`` and its message's schema, and which keys
    of its message that schema does not name (Benchling sends no others)."""
    document = openapi.webhooks()
    envelope = json.loads(body)
    message = envelope.get("message") if isinstance(envelope, dict) else None
    message_type = message.get("type") if isinstance(message, dict) else None
    where = f"webhook {message_type}"
    undocumented = UNDOCUMENTED_MESSAGES.get(str(message_type))
    # The envelope around a stand-in message (cheap against the message's oneOf), then the
    # message against the schema its type maps to.
    outer = {**envelope, "message": {"type": "v2.app.installed", "deprecated": False}}
    errors = document.schema_errors(outer, "WebhookEnvelopeV0")
    if undocumented is None:
        errors += document.schema_errors(message, "WebhookMessageV0")
        schema_ref = document.discriminated(message, "WebhookMessageV0")
        return where, errors + _unnamed_keys(document, message, schema_ref, str(message_type))
    # The wrapper no document names: the event it wraps, in full.
    assert isinstance(message, dict)
    event_schema, _ = undocumented
    event = message.get("event")
    errors += document.schema_errors(event, event_schema)
    schema_ref = f"#/components/schemas/{event_schema}"
    return where, errors + _unnamed_keys(document, event, schema_ref, str(message_type))


def _unnamed_keys(
    document: openapi.Document, message: Any, schema_ref: str, message_type: str
) -> list[str]:
    if not isinstance(message, dict):
        return []
    named = document.named_properties(schema_ref)
    allowed = set(UNNAMED_MESSAGE_KEYS.get(message_type.split(".")[0], {}))
    unnamed = sorted(set(message) - named - allowed)
    return [f"message: {', '.join(unnamed)} not named by {schema_ref}"] if unnamed else []


class ConformanceLog:
    """Keeps the answers of a WSGI app and the webhook bodies it is shown (up to
    ``checks_per_shape`` of each shape), and checks them when asked (``violations``): the
    checking costs the emulator's callers nothing while they wait."""

    def __init__(self, checks_per_shape: int = CHECKS_PER_SHAPE) -> None:
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self._limit = checks_per_shape
        self._kept: list[Callable[[], tuple[str, list[str]]]] = []
        self._violations: list[Violation] = []
        self.shapes_checked: set[str] = set()

    def middleware(self, app: WSGIApplication) -> WSGIApplication:
        def checked(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            method = environ["REQUEST_METHOD"]
            if not path.startswith(API_PREFIX + "/") and _mirrored_schema(method, path) is None:
                return app(environ, start_response)
            statuses: list[int] = []

            def remember(status: str, headers: Any, *args: Any) -> Callable[[bytes], object]:
                statuses.append(int(status.split()[0]))
                return start_response(status, headers, *args)

            body = b"".join(app(environ, remember))
            if path.startswith(API_PREFIX + "/") or statuses[0] < 300:
                self.keep_response(method, path, statuses[0], body)
            return [body]

        return checked

    def keep_response(self, method: str, path: str, status: int, body: bytes) -> None:
        if self._take_turn(f"{method} {openapi_template(method, path)} {status}"):
            with self._lock:
                self._kept.append(functools.partial(response_errors, method, path, status, body))

    def keep_webhooks(self, bodies: Iterable[bytes]) -> None:
        for body in bodies:
            message = json.loads(body).get("message", {})
            if self._take_turn(f"webhook {message.get('type')}"):
                with self._lock:
                    self._kept.append(functools.partial(webhook_errors, body))

    def violations(self) -> list[Violation]:
        """Check what was kept since the last call; every violation found so far."""
        with self._lock:
            kept, self._kept = self._kept, []
        for check in kept:
            where, errors = check()
            self.shapes_checked.add(where)
            if errors:
                self._violations.append(Violation(where, tuple(errors)))
        return list(self._violations)

    def _take_turn(self, shape: str) -> bool:
        with self._lock:
            self._seen[shape] += 1
            return self._seen[shape] <= self._limit


def openapi_template(method: str, path: str) -> str:
    operation = openapi.rest().operation(method, path.removeprefix(API_PREFIX))
    return operation.template if operation else path

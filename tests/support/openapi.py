"""Benchling's own OpenAPI documents (shipped in benchling-api-client), as JSON Schema validators
for the emulator's answers and webhook bodies.

The documents are OpenAPI 3.0; ``jsonschema`` validates JSON Schema 2020-12. Two translations
keep their meaning (``json_schema``):

- ``nullable: true`` becomes a ``"null"`` type (or, beside no ``type``, an ``anyOf`` with null);
- ``additionalProperties: false`` beside an ``allOf`` becomes ``unevaluatedProperties: false``:
  Benchling writes its closed webhook messages so (``AppInstalledWebhookV2``: only ``type`` and
  ``deprecated``), meaning "no property the composed schema does not name"; read literally as
  JSON Schema it would refuse every property, ``type`` included.

``$ref``s are resolved by ``referencing`` against the document they are in. Stable documents
come first; ``Spec.beta`` is for what only beta has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import benchling_api_client
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

_PACKAGE = Path(benchling_api_client.__file__).parent
REST_DOCUMENTS = {
    "stable": _PACKAGE / "v2" / "stable" / "openapi.yaml",
    "beta": _PACKAGE / "v2" / "beta" / "openapi.yaml",
}
WEBHOOK_DOCUMENTS = {
    "stable": _PACKAGE / "webhooks" / "v0" / "stable" / "openapi.yaml",
    "beta": _PACKAGE / "webhooks" / "v0" / "beta" / "openapi.yaml",
}

# Keys whose value is one schema, a list of schemas, or a map of names to schemas.
_ONE_SCHEMA = ("items", "additionalProperties", "not", "unevaluatedProperties")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_MAPS = ("properties", "patternProperties")
# OpenAPI-only keywords with no JSON Schema meaning for validation.
_OPENAPI_ONLY = ("nullable", "discriminator", "example", "xml", "externalDocs")

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


@_FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(date.fromisoformat(value))


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema (and every schema inside it) as JSON Schema 2020-12."""
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in _OPENAPI_ONLY or key.startswith("x-"):
            continue
        if key in _ONE_SCHEMA:
            converted[key] = json_schema(value)
        elif key in _SCHEMA_LISTS:
            converted[key] = [json_schema(item) for item in value]
        elif key in _SCHEMA_MAPS:
            converted[key] = {name: json_schema(item) for name, item in value.items()}
        else:
            converted[key] = value
    if converted.get("additionalProperties") is False and "allOf" in converted:
        del converted["additionalProperties"]
        converted["unevaluatedProperties"] = False
    if node.get("nullable") is True:
        if isinstance(converted.get("type"), str):
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            converted = {"anyOf": [{"type": "null"}, converted]}
    return converted


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # the document's path, ``/custom-entities/{custom_entity_id}``
    responses: dict[str, Any]  # by status ("200", "default"): each one's JSON schema or None


class Document:
    """One OpenAPI document: its schemas as validators, its operations by path."""

    def __init__(self, path: Path) -> None:
        with path.open() as file:
            raw = yaml.load(file, Loader=yaml.CSafeLoader)
        self.path = path
        self.schemas: dict[str, Any] = raw["components"]["schemas"]
        converted = {
            "components": {
                "schemas": {name: json_schema(schema) for name, schema in self.schemas.items()}
            }
        }
        self._registry: Registry[Any] = Registry().with_resource(
            "urn:benchling", DRAFT202012.create_resource(converted)
        )
        self._operations = [
            Operation(method, template, _response_schemas(operation))
            for template, item in raw.get("paths", {}).items()
            for method, operation in item.items()
            if method in ("get", "post", "patch", "put", "delete")
        ]
        self._patterns = {
            template: re.compile(
                "^" + re.sub(r"\\\{[^}]+\\\}", "[^/:]+", re.escape(template)) + "$"
            )
            for template in {operation.template for operation in self._operations}
        }

    def has(self, schema_name: str) -> bool:
        return schema_name in self.schemas

    def errors(self, instance: Any, schema: Any) -> list[str]:
        """Every way ``instance`` breaks ``schema`` (a ``$ref`` or an inline OpenAPI schema)."""
        validator = Draft202012Validator(
            _resolved_here(json_schema(schema)),
            registry=self._registry,
            format_checker=_FORMATS,
        )
        return [_describe(error) for error in validator.iter_errors(instance)]

    def schema_errors(self, instance: Any, schema_name: str) -> list[str]:
        """Every way ``instance`` breaks the named schema; where that schema's ``discriminator``
        maps the instance's value (a webhook message's ``type``), the mapped schema's alone."""
        return self.errors(instance, {"$ref": self.discriminated(instance, schema_name)})

    def discriminated(self, instance: Any, schema_name: str) -> str:
        """The ``$ref`` that ``instance`` is held to under the named schema."""
        discriminator = self.schemas[schema_name].get("discriminator") or {}
        value = (
            instance.get(discriminator.get("propertyName")) if isinstance(instance, dict) else None
        )
        mapped: str | None = discriminator.get("mapping", {}).get(value)
        return mapped or f"#/components/schemas/{schema_name}"

    def named_properties(self, ref: str) -> set[str]:
        """Every property name the schema at ``ref`` (``#/components/schemas/X``) names, through
        its ``allOf``s and ``$ref``s."""
        return _named(self.schemas, self.schemas[ref.rsplit("/", 1)[-1]])

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation serving ``method path`` (path below ``/api/v2``); literal paths first."""
        matching = [
            operation
            for operation in self._operations
            if operation.method == method.lower() and self._patterns[operation.template].match(path)
        ]
        matching.sort(key=lambda operation: operation.template.count("{"))
        return matching[0] if matching else None


def _named(schemas: dict[str, Any], schema: Any) -> set[str]:
    if not isinstance(schema, dict):
        return set()
    if "$ref" in schema:
        return _named(schemas, schemas[schema["$ref"].rsplit("/", 1)[-1]])
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= _named(schemas, part)
    return names


def _response_schemas(operation: dict[str, Any]) -> dict[str, Any]:
    schemas = {}
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {}) if isinstance(response, dict) else {}
        schemas[str(status)] = content.get("application/json", {}).get("schema")
    return schemas


def _resolved_here(schema: Any) -> Any:
    """Point the document's local ``#/components/...`` refs at the registered document."""
    if isinstance(schema, dict):
        return {
            key: (
                "urn:benchling" + value
                if key == "$ref" and isinstance(value, str) and value.startswith("#")
                else _resolved_here(value)
            )
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_resolved_here(item) for item in schema]
    return schema


def _describe(error: ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "(top)"
    causes = [_describe(cause) for cause in error.context or ()][:4]
    return f"{where}: {error.message[:300]}" + (f" [{'; '.join(causes)}]" if causes else "")


@cache
def rest(stability: str = "stable") -> Document:
    return Document(REST_DOCUMENTS[stability])


@cache
def webhooks(stability: str = "stable") -> Document:
    return Document(WEBHOOK_DOCUMENTS[stability])

"""Benchling's REST API (the part benchling-sdk calls), under ``/api/v2``, and the App's JWKS."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, g, jsonify, request

from benchling_emulator.clock import isoformat
from benchling_emulator.entities import EntityQuery
from benchling_emulator.entity_types import ENTITY_TYPES, EntityType
from benchling_emulator.errors import ApiError, bad_request
from benchling_emulator.listing import (
    Page,
    SortKey,
    keyset_page,
    parse_page_size,
    parse_sort,
    parse_time_filter,
)
from benchling_emulator.request_body import json_object, string_list
from benchling_emulator.services import current_services

Item = TypeVar("Item")

api = Blueprint("api", __name__, url_prefix="/api/v2")
jwks = Blueprint("jwks", __name__, url_prefix="/api/v1")

# Sortable properties, and whether each naturally sorts descending (times newest first).
_ENTITY_SORTS = {"modifiedAt": True, "createdAt": True, "name": False}
_CONFIG_SORTS = {"modifiedAt": True, "createdAt": True}
_BULK_GET_KEYS = [*(kind.ids_key for kind in ENTITY_TYPES.values()), "oligoIds"]


# --- what every API call passes through ---------------------------------------------------


@api.before_request
def _admit() -> Response | None:
    """Authenticate, inject faults, then count the call against the tenant's rate limit; every
    authenticated call goes into the request log with what became of it."""
    services = current_services()
    if request.endpoint == "api.token":
        return None  # neither authenticated by bearer nor counted
    if not services.tokens.accepts(request.headers.get("Authorization")):
        raise ApiError(401, "a valid bearer token is required", error_type="invalid_token")
    stats = services.stats
    route = f"{request.method} {request.url_rule.rule if request.url_rule else request.path}"
    fault = services.faults.draw()
    if fault is not None:
        stats.increment(f"responses_{fault}")
        stats.log_request(route, "fault", fault)
        window = services.limiter.peek()
        headers = (
            services.faults.contention_headers(window.limit) if fault == 429 else window.headers()
        )
        return _refusal(fault, "injected fault", headers)
    entity_fault = services.faults.for_entities(_entities_named())
    if entity_fault is not None:
        status, entity_id = entity_fault
        stats.increment(f"responses_{status}")
        stats.log_request(route, "fault", status)
        raise ApiError(status, f"injected fault for {entity_id}", invalid_id=entity_id)
    decision = services.limiter.acquire()
    if not decision.admitted:
        stats.increment("responses_429")
        stats.increment("rate_limited")
        stats.log_request(route, "rate_limited", 429)
        return _refusal(429, "rate limit exceeded", decision.headers())
    g.rate_limit_headers = decision.headers()
    stats.count_request(route)
    stats.log_request(route, "admitted")
    return None


@api.after_request
def _add_rate_limit_headers(response: Response) -> Response:
    response.headers.update(g.get("rate_limit_headers", {}))
    return response


def _entities_named() -> list[str]:
    """The entity ids this call names, in its path or in a bulk get's list."""
    in_path = (request.view_args or {}).get("entity_id")
    named = [str(in_path)] if in_path else []
    for key in _BULK_GET_KEYS:
        named += _comma_separated(request.args.get(key, ""))
    return named


def _refusal(status: int, message: str, headers: dict[str, str]) -> Response:
    response = jsonify(ApiError(status, message).body())
    response.status_code = status
    response.headers.update(headers)
    return response


def _paged(
    key: str,
    items: Iterable[Item],
    sort_key: Callable[[Item], SortKey],
    render: Callable[[Item], dict[str, Any]],
    descending: bool = False,
) -> Response:
    """One page of ``items`` as Benchling lists answer: items, nextToken, Result-Count."""
    page = keyset_page(
        items,
        sort_key,
        descending,
        parse_page_size(request.args.get("pageSize")),
        request.args.get("nextToken"),
    )
    return _page_response(
        key, Page([render(item) for item in page.items], page.next_token, page.total)
    )


def _page_response(key: str, page: Page[dict[str, Any]]) -> Response:
    response = jsonify({key: page.items, "nextToken": page.next_token})
    response.headers["Result-Count"] = str(page.total)
    return response


def _comma_separated(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


# --- authentication ------------------------------------------------------------------------


@api.post("/token")
def token() -> tuple[dict[str, Any], int]:
    if request.form.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type", "grant_type must be client_credentials", 400)
    credentials = request.authorization
    client_id = (credentials.username if credentials else None) or request.form.get("client_id")
    secret = (credentials.password if credentials else None) or request.form.get("client_secret")
    tokens = current_services().tokens
    access_token = tokens.issue(client_id or "", secret or "")
    if access_token is None:
        return _oauth_error("invalid_client", "unknown client id or wrong secret", 401)
    body = {"access_token": access_token, "token_type": "Bearer", "expires_in": tokens.ttl_seconds}
    return body, 200


def _oauth_error(error_type: str, message: str, status: int) -> tuple[dict[str, Any], int]:
    return ApiError(status, message, error_type=error_type).body(), status


# --- registry entities: each type's endpoints, as benchling-sdk calls them ------------------


def _add_entity_routes(kind: EntityType) -> None:
    """get, list, create, update, archive and unarchive under ``/<kind.path>``, and the bulk
    get where Benchling has one."""

    def get_one(entity_id: str) -> dict[str, Any]:
        return current_services().tenant.get_entity(entity_id, kind)

    def bulk_get() -> dict[str, Any]:
        ids = _comma_separated(request.args.get(kind.ids_key, ""))
        return {kind.list_key: current_services().tenant.bulk_get(ids, (kind,))}

    def list_all() -> Response:
        status = current_services().faults.list_statuses.get(kind.name)
        if status is not None:
            raise ApiError(status, f"injected fault for listing {kind.name}")
        args = request.args
        query = EntityQuery(
            types=frozenset({kind.name}),
            schema_id=args.get("schemaId"),
            registry_id=args.get("registryId"),
            ids=frozenset(_comma_separated(args["ids"])) if "ids" in args else None,
            modified_at=parse_time_filter(args["modifiedAt"]) if "modifiedAt" in args else None,
            created_at=parse_time_filter(args["createdAt"]) if "createdAt" in args else None,
            archive_reason=args.get("archiveReason", "NOT_ARCHIVED"),
            sort=parse_sort(args.get("sort"), _ENTITY_SORTS, default="modifiedAt"),
        )
        page = current_services().tenant.list_entities(
            query, parse_page_size(args.get("pageSize")), args.get("nextToken")
        )
        return _page_response(kind.list_key, page)

    def create() -> tuple[dict[str, Any], int]:
        return current_services().tenant.create_entity(json_object(), kind), 201

    def update(entity_id: str) -> dict[str, Any]:
        return current_services().tenant.update_entity(entity_id, json_object(), kind)

    def archive() -> dict[str, Any]:
        body = json_object()
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason:
            raise bad_request("reason is required")
        ids = string_list(body, kind.ids_key)
        return _archival_change(current_services().tenant.set_archived(ids, reason, kind))

    def unarchive() -> dict[str, Any]:
        ids = string_list(json_object(), kind.ids_key)
        return _archival_change(current_services().tenant.set_archived(ids, None, kind))

    def _archival_change(changed: list[str]) -> dict[str, Any]:
        return {kind.ids_key: changed, **({"batchIds": []} if kind.archival_batch_ids else {})}

    name = kind.name
    api.add_url_rule(f"/{kind.path}/<entity_id>", f"get_{name}", get_one, methods=["GET"])
    if kind.has_bulk_get:
        api.add_url_rule(f"/{kind.path}:bulk-get", f"bulk_get_{name}", bulk_get, methods=["GET"])
    api.add_url_rule(f"/{kind.path}", f"list_{name}", list_all, methods=["GET"])
    api.add_url_rule(f"/{kind.path}", f"create_{name}", create, methods=["POST"])
    api.add_url_rule(f"/{kind.path}/<entity_id>", f"update_{name}", update, methods=["PATCH"])
    api.add_url_rule(f"/{kind.path}:archive", f"archive_{name}", archive, methods=["POST"])
    api.add_url_rule(f"/{kind.path}:unarchive", f"unarchive_{name}", unarchive, methods=["POST"])


for _kind in ENTITY_TYPES.values():
    _add_entity_routes(_kind)


@api.get("/oligos:bulk-get")
def bulk_get_oligos() -> dict[str, Any]:
    """The legacy oligos endpoint: DNA and RNA oligos' only bulk get."""
    ids = _comma_separated(request.args.get("oligoIds", ""))
    oligos = (ENTITY_TYPES["dna_oligo"], ENTITY_TYPES["rna_oligo"])
    return {"oligos": current_services().tenant.bulk_get(ids, oligos)}


# --- registries and tasks ------------------------------------------------------------------


@api.get("/registries")
def list_registries() -> dict[str, Any]:
    return {"registries": [current_services().tenant.seed.registry.to_json()]}


@api.get("/registries/<registry_id>")
def get_registry(registry_id: str) -> dict[str, Any]:
    return current_services().tenant.registry(registry_id).to_json()


@api.post("/registries/<registry_id>:bulk-register-entities")
def register_entities(registry_id: str) -> tuple[dict[str, Any], int]:
    body = json_object()
    naming_strategy = str(body.get("namingStrategy") or "NEW_IDS")
    ids = string_list(body, "entityIds")
    return {"taskId": current_services().tenant.register(registry_id, ids, naming_strategy)}, 202


@api.get("/tasks/<task_id>")
def get_task(task_id: str) -> dict[str, Any]:
    return current_services().tenant.task(task_id)


# --- schemas and app configuration ---------------------------------------------------------


@api.get("/entity-schemas")
def list_entity_schemas() -> Response:
    schemas = current_services().tenant.schemas()
    if "modifiedAt" in request.args:
        modified = parse_time_filter(request.args["modifiedAt"])
        schemas = [schema for schema in schemas if modified(schema.modified_at)]
    return _paged(
        "entitySchemas",
        schemas,
        lambda schema: (isoformat(schema.modified_at), schema.id),
        lambda schema: schema.to_json(),
    )


@api.get("/entity-schemas/<schema_id>")
def get_entity_schema(schema_id: str) -> dict[str, Any]:
    return current_services().tenant.schema(schema_id).to_json()


@api.get("/app-configuration-items")
def list_app_configuration_items() -> Response:
    tenant = current_services().tenant
    items = tenant.config_items(request.args.get("appId", ""))
    sort = parse_sort(request.args.get("sort"), _CONFIG_SORTS, default="createdAt:asc")
    return _paged(
        "appConfigurationItems",
        items,
        lambda item: (isoformat(item.created_at), item.id),
        lambda item: item.to_json(tenant.app_id, tenant.base_url),
        sort.descending,
    )


# --- app sessions --------------------------------------------------------------------------


@api.post("/app-sessions")
def create_app_session() -> tuple[dict[str, Any], int]:
    return current_services().tenant.sessions.create(json_object()), 201


@api.get("/app-sessions/<session_id>")
def get_app_session(session_id: str) -> dict[str, Any]:
    return current_services().tenant.sessions.get(session_id)


@api.patch("/app-sessions/<session_id>")
def update_app_session(session_id: str) -> dict[str, Any]:
    return current_services().tenant.sessions.update(session_id, json_object())


# --- webhook keys --------------------------------------------------------------------------


@jwks.get("/apps/<app_definition_id>/jwks")
def app_jwks(app_definition_id: str) -> dict[str, Any]:
    services = current_services()
    if app_definition_id != services.settings.app_definition_id:
        abort(404)
    return services.signer.jwks()

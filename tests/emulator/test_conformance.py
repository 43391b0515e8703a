"""The emulator held to Benchling's own OpenAPI documents (benchling-api-client's REST and
webhook documents, stable first): every route the product and the tests use, every error it
answers, and every webhook body it sends, checked by a JSON Schema validator
(``tests.support.openapi``). The exceptions, each with its reason, are in
``tests.support.conformance``; every emulator the tests start is checked the same way."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from benchling_sdk.apps.framework import App
from benchling_sdk.apps.status.framework import new_session_context
from benchling_sdk.benchling import Benchling
from benchling_sdk.errors import BenchlingError
from benchling_sdk.models import AppSessionUpdateStatus

from benchling_emulator.entity_types import ENTITY_TYPES, EntityType
from benchling_emulator.events import APP_CONFIGURATION_UPDATED, APP_LIFECYCLE_SIGNALS
from benchling_emulator.server import EmulatorServer
from tests.support import openapi
from tests.support.conformance import response_errors, webhook_errors
from tests.support.emulator import (
    MakeEmulator,
    WebhookReceiver,
    benchling_client,
    conformance_checked,
)

# What a create request of each type needs beside its name and schema.
CREATE_CONTENT: dict[str, dict[str, Any]] = {
    "custom_entity": {},
    "dna_sequence": {"bases": "ACGTACGT", "isCircular": False},
    "rna_sequence": {"bases": "ACGUACGU"},
    "dna_oligo": {"bases": "ACGTAC"},
    "rna_oligo": {"bases": "ACGUAC"},
    "aa_sequence": {"aminoAcids": "MKTAYIAK"},
    "mixture": {"units": "mL", "ingredients": []},
    "molecule": {"chemicalStructure": {"structureFormat": "smiles", "value": "CCO"}},
}


class Api:
    """Plain HTTP calls with a bearer token, for routes and answers the SDK does not reach."""

    def __init__(self, emulator: EmulatorServer) -> None:
        self.base = f"{emulator.base_url}/api/v2"
        token = httpx.post(
            f"{self.base}/token",
            data={"grant_type": "client_credentials"},
            auth=(emulator.settings.client_id, emulator.settings.client_secret),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        self.client = httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(path, params=params)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(path, json=body)

    def patch(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.patch(path, json=body)


def _create(emulator: EmulatorServer, kind: EntityType, name: str) -> dict[str, Any]:
    schema_id = emulator.tenant.seed.schema_of_type(kind.name).id
    request = {"name": name, "schemaId": schema_id, **CREATE_CONTENT[kind.name]}
    return emulator.tenant.create_entity(request, kind)


def _drive_every_entity_route(emulator: EmulatorServer, api: Api, kind: EntityType) -> None:
    """get, list (by schema, by ids, by time), create, update, archive, unarchive and the bulk
    get of one type, and its 400 and 404 answers."""
    path = f"/{kind.path}"
    schema_id = emulator.tenant.seed.schema_of_type(kind.name).id
    [registered] = emulator.tenant.create_registered(1, [kind.name])
    created = api.post(path, {"name": "Made", "schemaId": schema_id, **CREATE_CONTENT[kind.name]})
    assert created.status_code == 201, created.text
    made = created.json()["id"]
    assert api.patch(f"{path}/{made}", {"name": "Renamed"}).status_code == 200
    assert api.get(f"{path}/{registered}").status_code == 200
    assert api.get(path, schemaId=schema_id, pageSize="1").status_code == 200
    assert api.get(path, ids=f"{registered},{made}").status_code == 200
    assert api.get(path, modifiedAt="> 2000-01-01", sort="name:asc").status_code == 200
    if kind.has_bulk_get:
        assert api.get(f"{path}:bulk-get", **{kind.ids_key: registered}).status_code == 200
    archived = api.post(f"{path}:archive", {kind.ids_key: [made], "reason": "Retired"})
    assert archived.status_code == 200, archived.text
    assert api.post(f"{path}:unarchive", {kind.ids_key: [made]}).status_code == 200
    # Errors: an unknown id (404), ids of which some are invalid (400 naming them), a bad page.
    assert api.get(f"{path}/{kind.id_prefix}unknown").status_code == 404
    assert api.get(path, ids=f"{registered},{kind.id_prefix}unknown").status_code == 400
    assert api.get(path, pageSize="1000").status_code == 400


def test_every_api_route_answers_as_the_rest_document_says(
    make_emulator: MakeEmulator,
) -> None:
    emulator = make_emulator()
    log = conformance_checked(emulator)
    api = Api(emulator)
    tenant = emulator.tenant
    for kind in ENTITY_TYPES.values():
        _drive_every_entity_route(emulator, api, kind)
    oligos = tenant.create_registered(2, ["dna_oligo", "rna_oligo"])
    assert api.get("/oligos:bulk-get", oligoIds=",".join(oligos)).status_code == 200

    registry = tenant.seed.registry.id
    assert api.get("/registries").status_code == 200
    assert api.get(f"/registries/{registry}").status_code == 200
    assert api.get("/registries/src_unknown").status_code == 404
    drafts = [_create(emulator, kind, f"Draft {kind.name}") for kind in ENTITY_TYPES.values()]
    registered = api.post(
        f"/registries/{registry}:bulk-register-entities",
        {"entityIds": [draft["id"] for draft in drafts], "namingStrategy": "NEW_IDS"},
    )
    assert registered.status_code == 202, registered.text
    assert api.get(f"/tasks/{registered.json()['taskId']}").status_code == 200
    assert api.get("/tasks/task_unknown").status_code == 404

    assert api.get("/entity-schemas").status_code == 200
    assert api.get(f"/entity-schemas/{tenant.seed.schema.id}").status_code == 200
    assert api.get("/entity-schemas/ts_unknown").status_code == 404
    control = f"{emulator.base_url}/_emulator/schemas"
    field = {"id": "tsf_conformance", "name": "Text", "type": "text"}
    defined = httpx.put(f"{control}/ts_conformance", json={"name": "Conf", "fields": [field]})
    assert defined.status_code == 200
    assert httpx.get(control).status_code == 200
    assert api.get("/app-configuration-items", appId=tenant.app_id).status_code == 200
    assert api.get("/app-configuration-items", appId="app_unknown").status_code == 404

    benchling = benchling_client(emulator)
    with new_session_context(App(tenant.app_id, benchling), "Sync", 60) as context:
        session = context.active_session()
        assert session is not None
        context.write_strings("syncing")
        context.close_session(AppSessionUpdateStatus.SUCCEEDED)
    assert benchling.apps.get_session_by_id(session.id).status.value == "SUCCEEDED"

    assert httpx.get(f"{api.base}/registries").status_code == 401  # no bearer token
    httpx.post(f"{emulator.base_url}/_emulator/faults", json={"rate_limit": 1})
    assert 429 in {api.get("/registries").status_code for _ in range(3)}

    violations = [str(violation) for violation in log.violations()]
    assert not violations, "\n".join(violations)
    expected = {
        *(
            f"{method} /{kind.path}{suffix} {status}"
            for kind in ENTITY_TYPES.values()
            for method, suffix, status in _entity_shapes(kind)
        ),
        "GET /oligos:bulk-get 200",
        "GET /registries 200",
        "GET /registries/{registry_id} 200",
        "GET /registries/{registry_id} 404",
        "POST /registries/{registry_id}:bulk-register-entities 202",
        "GET /tasks/{task_id} 200",
        "GET /tasks/{task_id} 404",
        "GET /entity-schemas 200",
        "GET /entity-schemas/{schema_id} 200",
        "GET /entity-schemas/{schema_id} 404",
        "GET /app-configuration-items 200",
        "GET /app-configuration-items 404",
        "POST /app-sessions 201",
        "PATCH /app-sessions/{id} 200",
        "GET /app-sessions/{id} 200",
        "GET /registries 401",
        "GET /registries 429",
        "PUT /_emulator/schemas/ts_conformance (mirrors EntitySchema)",
        "GET /_emulator/schemas (mirrors EntitySchemasPaginatedList)",
    }
    assert expected <= log.shapes_checked, sorted(expected - log.shapes_checked)


def _entity_shapes(kind: EntityType) -> list[tuple[str, str, int]]:
    """The (method, path below the type's collection, status) of every answer
    ``_drive_every_entity_route`` asks for."""
    one = _path_parameter(kind)
    shapes = [
        ("GET", "", 200),
        ("GET", "", 400),
        ("POST", "", 201),
        ("GET", one, 200),
        ("GET", one, 404),
        ("PATCH", one, 200),
        ("POST", ":archive", 200),
        ("POST", ":unarchive", 200),
    ]
    return [*shapes, ("GET", ":bulk-get", 200)] if kind.has_bulk_get else shapes


def _path_parameter(kind: EntityType) -> str:
    operation = openapi.rest().operation("GET", f"/{kind.path}/{kind.id_prefix}x")
    assert operation is not None
    return operation.template.removeprefix(f"/{kind.path}")


def test_bulk_register_entities_registers_every_entity_type(emulator: EmulatorServer) -> None:
    api = Api(emulator)
    tenant = emulator.tenant
    drafts = [_create(emulator, kind, f"Draft {kind.name}") for kind in ENTITY_TYPES.values()]

    answer = api.post(
        f"/registries/{tenant.seed.registry.id}:bulk-register-entities",
        {"entityIds": [draft["id"] for draft in drafts], "namingStrategy": "IDS_FROM_NAMES"},
    )

    assert answer.status_code == 202
    assert tenant.task(answer.json()["taskId"])["status"] == "SUCCEEDED"
    for draft, kind in zip(drafts, ENTITY_TYPES.values(), strict=True):
        assert tenant.get_entity(draft["id"], kind)["entityRegistryId"] == draft["name"]


def test_invalid_ids_are_named_beside_the_error_as_listing_error_has_them(
    emulator: EmulatorServer,
) -> None:
    [known] = emulator.tenant.create_registered(1)

    answer = Api(emulator).get("/custom-entities", ids=f"{known},bfi_nope")

    assert answer.status_code == 400
    assert answer.json()["invalidIds"] == ["bfi_nope"]
    assert set(answer.json()["error"]) == {"type", "message", "userMessage"}
    assert not openapi.rest().schema_errors(answer.json(), "ListingError")


def test_every_webhook_body_is_as_the_webhook_document_says(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook_urls=(webhook_receiver.url,))
    tenant = emulator.tenant
    tenant.create_registered(1, list(ENTITY_TYPES))  # v2.entity.registered of all eight
    for kind in ENTITY_TYPES.values():  # v3 created and updated, where Benchling sends them
        made = _create(emulator, kind, f"Made {kind.name}")
        tenant.update_entity(made["id"], {"name": "Renamed"}, kind)
    tenant.link_synced_field("Notes")
    for signal in APP_LIFECYCLE_SIGNALS:
        httpx.post(f"{emulator.base_url}/_emulator/app-signal", json={"type": signal})
    httpx.post(f"{emulator.base_url}/_emulator/event-envelope", json={"form": "v0-beta"})
    tenant.create_registered(1)
    assert emulator.wait_for_webhooks()

    bodies = [json.loads(webhook.body) for webhook in webhook_receiver.received]
    violations = [
        f"{where}: {errors}"
        for webhook in webhook_receiver.received
        for where, errors in [webhook_errors(webhook.body)]
        if errors
    ]
    assert not violations, "\n".join(violations)
    types = {body["message"]["type"] for body in bodies}
    v3 = {
        f"v3.{kind.event_name}.{change}"
        for kind in ENTITY_TYPES.values()
        if kind.event_name
        for change in ("created", "updated")
    }
    assert types == {
        "v2.entity.registered",
        *v3,
        APP_CONFIGURATION_UPDATED,
        *APP_LIFECYCLE_SIGNALS,
        "v0-beta.event.created",
    }
    for body in bodies:
        message = body["message"]
        if message["type"].startswith("v3."):
            assert message["stability"] == "stable" and "schema" not in message
        if body["channel"] == "app_signals":
            assert message == {"type": message["type"], "deprecated": False}


@pytest.mark.parametrize(
    ("what", "body", "breaks"),
    [
        (
            "v3 without stability, with a schema",
            {
                "type": "v3.customEntity.created",
                "id": "evt_1",
                "resourceId": "bfi_1",
                "createdAt": "2026-01-01T00:00:00+00:00",
                "deprecated": False,
                "schema": {"id": "ts_1"},
            },
            ["'stability' is a required property", "schema not named"],
        ),
        (
            "a configuration update with an id",
            {"type": APP_CONFIGURATION_UPDATED, "deprecated": False, "id": "evt_1"},
            ["'id' was unexpected"],
        ),
    ],
)
def test_the_webhook_check_refuses_what_the_document_refuses(
    what: str, body: dict[str, Any], breaks: list[str]
) -> None:
    envelope = {
        "version": "0",
        "baseURL": "https://tenant.benchling.com",
        "tenantId": "ten_1",
        "app": {"id": "app_1"},
        "appDefinition": {"id": "appdef_1", "versionNumber": "1"},
        "channel": "events",
        "message": body,
    }
    _, errors = webhook_errors(json.dumps(envelope).encode())
    for expected in breaks:
        assert any(expected in error for error in errors), (what, errors)


def test_the_rest_check_refuses_what_the_document_refuses(emulator: EmulatorServer) -> None:
    [oligo] = emulator.tenant.create_registered(1, ["dna_oligo"])
    document = emulator.tenant.get_entity(oligo, ENTITY_TYPES["dna_oligo"])
    nulled_helm = json.dumps({**document, "helm": None}).encode()
    invalid_ids_inside = json.dumps(
        {"error": {"type": "invalid_request_error", "message": "m", "invalidIds": ["x"]}}
    ).encode()

    _, helm_errors = response_errors("GET", f"/api/v2/dna-oligos/{oligo}", 200, nulled_helm)
    _, error_errors = response_errors("GET", "/api/v2/custom-entities", 400, invalid_ids_inside)

    assert any("helm" in error for error in helm_errors)
    assert any("error.invalidIds" in error for error in error_errors)
    assert not response_errors(
        "GET", f"/api/v2/dna-oligos/{oligo}", 200, json.dumps(document).encode()
    )[1]


def test_the_sdk_reads_the_conforming_answers(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    """What conformance changed (helm strings, item descriptions, invalidIds beside the error)
    the SDK still reads."""
    ids = emulator.tenant.create_registered(2, ["dna_oligo", "rna_oligo"])
    oligos = benchling.oligos.bulk_get(ids) or []
    assert sorted(oligo.id for oligo in oligos) == sorted(ids)
    assert all(oligo.helm.startswith("RNA1{") for oligo in oligos)
    pages = benchling.apps.list_app_configuration_items(app_id=emulator.tenant.app_id)
    descriptions = [getattr(item, "description", None) for page in pages for item in page]
    assert descriptions and all(isinstance(text, str) and text for text in descriptions)
    with pytest.raises(BenchlingError) as refused:
        list(benchling.mixtures.list(ids=["mxt_unknown"]))
    assert refused.value.status_code == 400
    assert refused.value.json == {
        "error": {
            "type": "invalid_request_error",
            "message": "invalid ids: mxt_unknown",
            "userMessage": "invalid ids: mxt_unknown",
        },
        "invalidIds": ["mxt_unknown"],
    }

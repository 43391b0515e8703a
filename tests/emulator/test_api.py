"""The real benchling-sdk against a running emulator, over HTTP."""

from __future__ import annotations

import httpx
import pytest
from benchling_api_client.v2.stable.models.custom_entity import CustomEntity as CustomEntityModel
from benchling_api_client.v2.stable.models.entity_schema import EntitySchema as EntitySchemaModel
from benchling_sdk.apps.framework import App
from benchling_sdk.apps.status.framework import new_session_context
from benchling_sdk.benchling import Benchling
from benchling_sdk.errors import BenchlingError
from benchling_sdk.helpers.serialization_helpers import fields
from benchling_sdk.models import (
    AppSessionUpdateStatus,
    CustomEntityCreate,
    CustomEntityUpdate,
    EntityArchiveReason,
    ListCustomEntitiesSort,
    NamingStrategy,
)

from benchling_emulator.entity_types import ENTITY_TYPES
from benchling_emulator.server import EmulatorServer
from tests.support.emulator import MakeEmulator, benchling_client


def _all_ids(pages: object) -> list[str]:
    return [entity.id for page in pages for entity in page]  # type: ignore[attr-defined]


def test_token_is_issued_and_a_wrong_secret_is_refused(emulator: EmulatorServer) -> None:
    token = httpx.post(
        f"{emulator.base_url}/api/v2/token",
        data={"grant_type": "client_credentials"},
        auth=(emulator.settings.client_id, emulator.settings.client_secret),
    )
    assert token.status_code == 200
    assert token.json()["token_type"] == "Bearer"
    assert token.json()["expires_in"] > 0

    wrong = benchling_client(emulator, client_secret="not-the-secret")
    with pytest.raises(BenchlingError) as refused:
        wrong.custom_entities.get_by_id("bfi_any")
    assert refused.value.status_code == 401


def test_api_calls_need_a_valid_bearer_token(emulator: EmulatorServer) -> None:
    url = f"{emulator.base_url}/api/v2/registries"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer forged"}).status_code == 401


def test_get_parses_strictly_and_unknown_ids_raise_benchling_error(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    [entity_id] = emulator.tenant.create_registered(1)
    entity = benchling.custom_entities.get_by_id(entity_id)
    assert entity.schema is not None
    assert entity.schema.id == emulator.tenant.seed.schema.id
    assert (entity.entity_registry_id or "").startswith("EMU")
    assert entity.registry_id == emulator.tenant.seed.registry.id
    assert entity.fields["Status"].display_value in {"Active", "Pending", "Retired"}
    assert isinstance(entity.fields["Tags"].value, list)
    assert entity.fields["Tags"].is_multi
    # Every key the SDK's model knows is present: a strict parse succeeds.
    CustomEntityModel.from_dict(emulator.tenant.get_entity(entity_id), strict=True)

    with pytest.raises(BenchlingError) as missing:
        benchling.custom_entities.get_by_id("bfi_doesnotexist")
    assert missing.value.status_code == 404
    assert missing.value.json is not None
    error = missing.value.json["error"]
    assert error["type"] == "invalid_request_error"  # type: ignore[index]


def test_bulk_get_omits_or_refuses_unknown_ids(
    make_emulator: MakeEmulator, emulator: EmulatorServer, benchling: Benchling
) -> None:
    ids = emulator.tenant.create_registered(3)
    found = benchling.custom_entities.bulk_get([*ids, "bfi_unknown"])
    assert found is not None
    assert sorted(entity.id for entity in found) == sorted(ids)

    strict = make_emulator(bulk_get_missing="error")
    strict_ids = strict.tenant.create_registered(1)
    with pytest.raises(BenchlingError) as refused:
        benchling_client(strict).custom_entities.bulk_get([*strict_ids, "bfi_unknown"])
    assert refused.value.status_code == 404


def test_list_pages_through_everything_with_an_empty_last_token(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    ids = emulator.tenant.create_registered(7)
    pages = list(benchling.custom_entities.list(page_size=3, sort="modifiedAt:asc"))
    assert [len(page) for page in pages] == [3, 3, 1]
    assert _all_ids(pages) == ids

    first = benchling.custom_entities._custom_entities_page(page_size=5)
    assert first.headers["Result-Count"] == "7"
    assert first.parsed is not None
    last = benchling.custom_entities._custom_entities_page(
        page_size=5, next_token=first.parsed.next_token
    )
    assert last.parsed is not None
    assert last.parsed.next_token == ""


def test_list_filters(emulator: EmulatorServer, benchling: Benchling) -> None:
    tenant = emulator.tenant
    early = tenant.create_registered(3)
    watermark = tenant.get_entity(early[-1])["modifiedAt"]
    late = tenant.create_registered(2)
    tenant.set_archived([late[0]], "Retired")

    listed = benchling.custom_entities.list
    assert _all_ids(listed(modified_at=f"> {watermark}", sort="modifiedAt:asc")) == [late[1]]
    assert _all_ids(listed(modified_at=f"<= {watermark}", sort="modifiedAt:asc")) == early
    assert _all_ids(listed(archive_reason="ANY_ARCHIVED")) == [late[0]]
    everything = listed(archive_reason="ANY_ARCHIVED_OR_NOT_ARCHIVED")
    assert sorted(_all_ids(everything)) == sorted(early + late)
    assert late[0] not in _all_ids(listed())  # NOT_ARCHIVED is the default
    assert sorted(_all_ids(listed(ids=[early[0], late[1]]))) == sorted([early[0], late[1]])
    assert _all_ids(listed(schema_id="ts_other")) == []
    assert len(_all_ids(listed(schema_id=tenant.seed.schema.id))) == 4


def test_list_sorts(emulator: EmulatorServer, benchling: Benchling) -> None:
    ids = emulator.tenant.create_registered(4)
    benchling.custom_entities.update(ids[0], CustomEntityUpdate(name="A first by name"))
    listed = benchling.custom_entities.list
    by_modified = [ids[1], ids[2], ids[3], ids[0]]
    assert _all_ids(listed(sort=ListCustomEntitiesSort.MODIFIEDATASC, page_size=2)) == by_modified
    assert _all_ids(listed(sort="modifiedAt:desc", page_size=2)) == by_modified[::-1]
    assert _all_ids(listed(sort="modifiedAt")) == by_modified[::-1]  # newest first
    assert _all_ids(listed(sort="createdAt:asc", page_size=3)) == ids
    assert _all_ids(listed(sort="name:asc", page_size=3))[0] == ids[0]
    assert _all_ids(listed(sort="name:desc"))[-1] == ids[0]


def test_list_refuses_pages_over_100(emulator: EmulatorServer, benchling: Benchling) -> None:
    with pytest.raises(BenchlingError) as refused:
        list(benchling.custom_entities.list(page_size=101))
    assert refused.value.status_code == 400


def test_create_registering_at_creation_and_through_a_task(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    seed = emulator.tenant.seed
    registered = benchling.custom_entities.create(
        CustomEntityCreate(
            name="Made registered",
            schema_id=seed.schema.id,
            folder_id=seed.folder_id,
            registry_id=seed.registry.id,
            naming_strategy=NamingStrategy.NEW_IDS,
            fields=fields({"Description": {"value": "hello"}, "Passage Number": {"value": 4}}),
        )
    )
    assert registered.registry_id == seed.registry.id
    assert registered.fields["Description"].value == "hello"

    draft = benchling.custom_entities.create(
        CustomEntityCreate(name="Draft", schema_id=seed.schema.id, folder_id=seed.folder_id)
    )
    assert draft.registry_id is None
    task = benchling.registry.register(seed.registry.id, [draft.id])
    completion = task.wait_for_completion(interval_wait_seconds=0)
    assert completion.success
    assert benchling.tasks.get_by_id(task.task_id).status.value == "SUCCEEDED"
    assert benchling.custom_entities.get_by_id(draft.id).entity_registry_id
    assert [registry.id for registry in benchling.registry.registries()] == [seed.registry.id]


def test_create_refuses_values_that_do_not_fit_the_schema(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    seed = emulator.tenant.seed
    with pytest.raises(BenchlingError) as refused:
        benchling.custom_entities.create(
            CustomEntityCreate(
                name="Bad",
                schema_id=seed.schema.id,
                folder_id=seed.folder_id,
                fields=fields({"Passage Number": {"value": "four"}}),
            )
        )
    assert refused.value.status_code == 400


def test_archive_and_unarchive_move_modified_at_forward(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    [entity_id] = emulator.tenant.create_registered(1)
    before = benchling.custom_entities.get_by_id(entity_id).modified_at

    change = benchling.custom_entities.archive([entity_id], EntityArchiveReason.RETIRED)
    assert change.custom_entity_ids == [entity_id]
    archived = benchling.custom_entities.get_by_id(entity_id)
    assert archived.archive_record is not None
    assert archived.archive_record.reason == EntityArchiveReason.RETIRED
    assert archived.modified_at > before

    benchling.custom_entities.unarchive([entity_id])
    restored = benchling.custom_entities.get_by_id(entity_id)
    assert restored.archive_record is None
    assert restored.modified_at > archived.modified_at


def test_schemas_parse_strictly(emulator: EmulatorServer, benchling: Benchling) -> None:
    seed_schema = emulator.tenant.seed.schema
    schema = benchling.schemas.get_entity_schema_by_id(seed_schema.id)
    names = [getattr(definition, "name", None) for definition in schema.field_definitions]
    assert names == [field.name for field in seed_schema.fields]
    listed = {
        schema.id: schema for page in benchling.schemas.list_entity_schemas() for schema in page
    }
    others = emulator.tenant.seed.other_schemas
    assert set(listed) == {seed_schema.id, *(other.id for other in others)}
    # One schema of each of the eight entity types, each parsing strictly.
    assert {str(schema.type.value) for schema in listed.values()} == set(ENTITY_TYPES)
    for each in (seed_schema, *others):
        EntitySchemaModel.from_dict(each.to_json(), strict=True)
    types = {field.type for field in seed_schema.fields}
    assert {"text", "integer", "float", "boolean", "dropdown", "entity_link", "datetime"} <= types
    assert any(field.is_multi for field in seed_schema.fields)


def test_app_configuration_resolves_the_seed_manifest_paths(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    store = App(emulator.settings.app_id, benchling).config_store
    schema_item = store.config_by_path(["Synced Schema"]).required()
    assert schema_item.value_str() == emulator.tenant.seed.schema.id
    assert schema_item.linked_resource().name == emulator.tenant.seed.schema.name
    field_item = store.config_by_path(["Synced Schema", "Synced Field Data"]).required()
    assert field_item.linked_resource().name == "Description"


def test_app_sessions_work_through_the_sdk_helpers(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    app = App(emulator.settings.app_id, benchling)
    with new_session_context(app, "Sync", timeout_seconds=60) as context:
        session = context.active_session()
        assert session is not None
        context.write_strings("syncing")
        context.close_session(AppSessionUpdateStatus.SUCCEEDED)
    closed = benchling.apps.get_session_by_id(session.id)
    assert closed.status.value == "SUCCEEDED"
    assert [message.content for message in closed.messages or []] == ["syncing"]


def test_admitted_responses_carry_rate_limit_headers(
    emulator: EmulatorServer, benchling: Benchling
) -> None:
    response = benchling.custom_entities._custom_entities_page()
    limit = emulator.settings.rate_limit
    assert response.headers["x-rate-limit-limit"] == str(limit)
    assert int(response.headers["x-rate-limit-remaining"]) < limit
    assert int(response.headers["x-rate-limit-reset"]) <= 30

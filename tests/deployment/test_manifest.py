"""manifest.yaml, Benchling's App manifest, against what the code subscribes to and reads."""

from __future__ import annotations

from typing import Any

import pytest

from benchling_emulator import seed
from benchsync_dagster.benchling.app_config import SYNCED_FIELD_PATH, SYNCED_SCHEMA_PATH
from tests.deployment.stack import load_yaml
from webhook_sensor_bridge.inbox.event_types import (
    APP_CONFIGURATION_UPDATED,
    RECORDED_EVENT_TYPES,
    SYNCED_ENTITY_EVENT_TYPES,
)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml("manifest.yaml")
    return document


def subscribed_types(manifest: dict[str, Any]) -> set[str]:
    return {message["type"] for message in manifest["subscriptions"]["messages"]}


def configuration_paths(manifest: dict[str, Any]) -> set[tuple[str, ...]]:
    """Each item's path as benchling-sdk's config store addresses it: item, then item → field."""
    paths: set[tuple[str, ...]] = set()
    for item in manifest["configuration"]:
        paths.add((item["name"],))
        paths.update((item["name"], field["name"]) for field in item.get("fieldDefinitions", []))
    return paths


def test_it_is_a_version_1_manifest_with_name_description_and_version(
    manifest: dict[str, Any],
) -> None:
    assert manifest["manifestVersion"] == 1
    assert {"name", "description", "version"} <= set(manifest["info"])


def test_events_arrive_by_webhook(manifest: dict[str, Any]) -> None:
    assert manifest["subscriptions"]["deliveryMethod"] == "WEBHOOK"


def test_every_subscribed_message_is_one_the_bridge_records(manifest: dict[str, Any]) -> None:
    assert subscribed_types(manifest) <= RECORDED_EVENT_TYPES


def test_every_message_the_sync_handles_is_subscribed(manifest: dict[str, Any]) -> None:
    handled = SYNCED_ENTITY_EVENT_TYPES | {APP_CONFIGURATION_UPDATED}
    assert handled <= subscribed_types(manifest)


def test_it_keeps_the_example_apps_subscription(manifest: dict[str, Any]) -> None:
    assert "v2.entity.registered" in subscribed_types(manifest)


def test_it_declares_exactly_the_configuration_the_code_reads(manifest: dict[str, Any]) -> None:
    read_by_code = {tuple(SYNCED_SCHEMA_PATH), tuple(SYNCED_FIELD_PATH)}
    assert configuration_paths(manifest) == read_by_code
    # The emulator's tenant is configured as an install of this manifest would be.
    assert {seed.SYNCED_SCHEMA_PATH, seed.SYNCED_FIELD_PATH} == read_by_code


def test_the_synced_schema_is_a_custom_entity_schema_with_a_text_field(
    manifest: dict[str, Any],
) -> None:
    (schema,) = manifest["configuration"]
    assert (schema["type"], schema["subtype"], schema["requiredConfig"]) == (
        "entity_schema",
        "custom_entity",
        True,
    )
    (field,) = schema["fieldDefinitions"]
    assert (field["type"], field["isMulti"], field["requiredConfig"]) == ("text", False, True)

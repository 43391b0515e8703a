"""The App's configuration in Benchling: which schema and field feed ``synced_benchling_data``."""

from __future__ import annotations

from benchling_sdk.apps.config.errors import MissingRequiredConfigItemError
from benchling_sdk.apps.framework import App
from benchling_sdk.benchling import Benchling

from benchsync_core.settings import ConfigurationError
from benchsync_dagster.storage.app_configuration import SyncTarget

# The App configuration paths this code reads; manifest.yaml declares the same.
SYNCED_SCHEMA_PATH = ["Synced Schema"]
SYNCED_FIELD_PATH = ["Synced Schema", "Synced Field Data"]


def read_sync_target(benchling: Benchling, app_id: str) -> SyncTarget:
    """Read the App configuration ("Synced Schema" → "Synced Field Data") from the tenant."""
    store = App(app_id, benchling).config_store
    try:
        schema_id = store.config_by_path(SYNCED_SCHEMA_PATH).required().value_str()
        field = store.config_by_path(SYNCED_FIELD_PATH).required().linked_resource()
    except MissingRequiredConfigItemError as error:
        raise ConfigurationError(
            f"the App's configuration in Benchling is incomplete: {error}"
        ) from error
    return SyncTarget(schema_id=schema_id, field_name=field.name, field_id=field.id)

"""What the sync's and the reconciliation's steps share to write the tables: the App
configuration read again when due, and the metadata a written table reports."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from benchsync_core.settings import ConfigurationError
from benchsync_dagster.benchling.app_config import read_sync_target
from benchsync_dagster.defs.resources import BenchlingResource, PostgresResource
from benchsync_dagster.storage import app_configuration, synced_data
from webhook_sensor_bridge import inbox

_SQL_TYPES = {"string": "text", "bool": "boolean", "datetime64[us, UTC]": "timestamptz"}


def table_metadata(table: str, columns: Mapping[str, str], row_count: int) -> dict[str, Any]:
    schema = dg.TableSchema(
        columns=[dg.TableColumn(name, _SQL_TYPES[dtype]) for name, dtype in columns.items()]
    )
    return {
        "dagster/table_name": table,
        "dagster/row_count": row_count,
        "dagster/column_schema": schema,
    }


def refresh_app_configuration(
    benchling: BenchlingResource, postgres: PostgresResource, max_age_seconds: float
) -> None:
    """Read the App configuration from Benchling when none is stored or the stored one is
    ``max_age_seconds`` old, and store it. (When it changed, ``inbox_sensor`` sees it and
    requests ``app_configuration_job``, which rebuilds the rows.)"""
    with postgres.transaction() as connection:
        stored = app_configuration.current(connection)
        app_id = benchling.app_id or inbox.latest_app_id(connection, benchling.tenant_url)
    age = (datetime.now(UTC) - stored.read_at).total_seconds() if stored else None
    if age is None or age >= max_age_seconds:
        app_id = app_id or (stored.app_id if stored else None)
        if app_id is None:
            raise ConfigurationError(
                "BENCHLING_APP_ID is not set and no verified webhook from this tenant, for"
                " APP_DEFINITION_ID, has told us the App's id yet"
            )
        with postgres.transaction() as connection:
            read_at = app_configuration.database_now(connection)
        target = read_sync_target(benchling.client, app_id)
        with postgres.transaction() as connection:
            app_configuration.store(connection, app_id, target, read_at)
            if stored is None and synced_data.row_count(connection) == 0:
                app_configuration.mark_built(connection, target)  # a first install: no rows

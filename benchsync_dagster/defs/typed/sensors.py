"""A new typed table appears in the UI without a code change: the code location builds one
asset per catalogued table from the catalog it read when it initialized (``definitions.py``),
and this sensor reloads the location once the catalog no longer matches what was loaded — a new
schema, a column added, a field renamed or retyped.

It reloads through the webserver's GraphQL API (``reloadRepositoryLocation``, what the UI's
"Reload" does), the one public way to reload a code location: the webserver asks the code
server to reload (gRPC ``ReloadCode``, which starts its code process again) and the daemon sees
the new server id within a second. Dagster offers a code location no public way to reload itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

import dagster as dg
from dagster_graphql import (
    DagsterGraphQLClient,
    DagsterGraphQLClientError,
    ReloadRepositoryLocationStatus,
)

from benchsync_dagster.defs.resources import PostgresResource
from benchsync_dagster.storage import typed_tables
from benchsync_dagster.typed.catalog import TypedTable

WEBSERVER_URL_VARIABLE = "BENCHSYNC_DAGSTER_WEBSERVER_URL"
CATALOG_CHECK_SECONDS = 15


class DagsterWebserver(dg.ConfigurableResource["DagsterWebserver"]):
    """Where this instance's Dagster webserver answers (for reloading the code location)."""

    url: str = "http://localhost:3000"

    def reload(self, location_name: str) -> str | None:
        """Reload the code location; returns why it failed, or None."""
        parts = urlsplit(self.url)
        client = DagsterGraphQLClient(
            parts.hostname or "localhost",
            port_number=parts.port,
            use_https=parts.scheme == "https",
            path_prefix=parts.path.rstrip("/"),
            timeout=60,
        )
        try:
            info = client.reload_repository_location(location_name)
        except DagsterGraphQLClientError as error:
            return str(error)
        if info.status != ReloadRepositoryLocationStatus.SUCCESS:
            return f"{info.failure_type}: {info.message}"
        return None


def catalog_fingerprint(tables: Iterable[TypedTable]) -> str:
    """What of the catalog the definitions show: tables, their schemas' names, their columns."""
    shown = sorted(
        (
            table.schema_id,
            table.schema_name,
            table.view_name,
            [(c.column_name, c.field_name, c.type_now) for c in table.columns],
        )
        for table in tables
    )
    return hashlib.sha256(json.dumps(shown).encode()).hexdigest()[:16]


def typed_tables_sensor(loaded: str, location_name: str | None) -> dg.SensorDefinition:
    """The sensor of definitions loaded from a catalog whose fingerprint is ``loaded``, in the
    code location Dagster named ``location_name`` (None: loaded outside a workspace, where there
    is nothing to reload)."""

    @dg.sensor(
        name="typed_tables_sensor",
        minimum_interval_seconds=CATALOG_CHECK_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Reloads the code location when a typed table appeared or changed, so that"
        " its asset shows in the UI.",
    )
    def sensor(
        context: dg.SensorEvaluationContext,
        postgres: PostgresResource,
        dagster_webserver: DagsterWebserver,
    ) -> dg.SkipReason:
        with postgres.transaction() as connection:
            catalog = typed_tables.load(connection)
        if catalog_fingerprint(catalog.values()) == loaded:
            return dg.SkipReason("the typed tables' assets match the catalog")
        if location_name is None:
            return dg.SkipReason("the catalog changed; no code location to reload (no workspace)")
        failure = dagster_webserver.reload(location_name)
        if failure is not None:
            context.log.warning(f"could not reload {location_name} for new typed tables: {failure}")
            return dg.SkipReason(
                f"the catalog changed; reloading {location_name} failed: {failure}"
            )
        return dg.SkipReason(
            f"the catalog changed: reloaded {location_name} ({len(catalog)} tables)"
        )

    return sensor

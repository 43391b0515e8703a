"""The Dagster code location: ``workspace.yaml`` (``benchsync_dagster.definitions``, location
``benchsync_dagster``) loads ``defs``.

Settings come from environment variables through ``dg.EnvVar``: Dagster resolves each when a
run or tick first needs it, and shows it on the resource page. An optional variable that is
not set leaves its field at the default; only whether it is set is looked at here, when
Dagster loads the definitions (not at import).

The typed tables' assets follow the catalog in Postgres, read once, when the code server
initializes the location; Dagster stores it with each run's execution plan (the location's
reconstruction metadata) and a run worker builds its definitions from that copy, so it never
queries the catalog and its asset graph is the one the run was planned with.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import dagster as dg
import psycopg

# Not exported by `dagster` 1.13: the loader its own integrations use to read an external source
# once per code-server load and hand it to run workers (docs/architecture.md, typed tables).
from dagster._core.definitions.definitions_load_context import (
    DefinitionsLoadContext,
    StateBackedDefinitionsLoader,
)

from benchsync_core.settings import DATABASE_URL_VARIABLE
from benchsync_dagster.defs.backfill.jobs import typed_table_backfill_job
from benchsync_dagster.defs.backfill.sensors import typed_table_backfill_sensor
from benchsync_dagster.defs.liveness.resources import RunHeartbeat
from benchsync_dagster.defs.liveness.sensors import fail_orphaned_runs
from benchsync_dagster.defs.poll.assets import registry_poll
from benchsync_dagster.defs.poll.sensors import (
    DEFAULT_POLL_INTERVAL_SECONDS,
    POLL_INTERVAL_VARIABLE,
    poll_job,
    poll_sensor,
)
from benchsync_dagster.defs.reconciliation.assets import registry_reconciliation
from benchsync_dagster.defs.reconciliation.schedules import (
    RECONCILE_CRON_VARIABLE,
    reconciliation_job,
    reconciliation_schedule,
)
from benchsync_dagster.defs.resources import (
    SYNC_RUN_TIMEOUT_SECONDS,
    BenchlingResource,
    PostgresResource,
    SyncSettings,
)
from benchsync_dagster.defs.retention.jobs import inbox_retention_job, inbox_retention_schedule
from benchsync_dagster.defs.sync.assets import (
    benchling_app_configuration,
    benchling_entity_snapshots,
    synced_benchling_data,
)
from benchsync_dagster.defs.sync.cancellations import settle_cancelled_batches
from benchsync_dagster.defs.sync.checks import (
    benchling_answers,
    no_event_pending_too_long,
    no_recent_dead_letters,
    sync_health_sensor,
)
from benchsync_dagster.defs.sync.inbox_sensor import inbox_sensor
from benchsync_dagster.defs.sync.jobs import app_configuration_job, requeue_job, sync_job
from benchsync_dagster.defs.sync.retries import retry_failed_batches
from benchsync_dagster.defs.typed.assets import typed_table_checks, typed_table_specs
from benchsync_dagster.defs.typed.checks import typed_tables_complete
from benchsync_dagster.defs.typed.sensors import (
    WEBSERVER_URL_VARIABLE,
    DagsterWebserver,
    catalog_fingerprint,
    typed_tables_sensor,
)
from benchsync_dagster.defs.upstream import benchling_registry, benchling_webhook_inbox
from benchsync_dagster.storage import typed_tables
from benchsync_dagster.typed.catalog import TypedTable, catalog_json, tables_from_json

Default = TypeVar("Default", int, str, None)


def env_or(variable: str, default: Default) -> Default:
    """``dg.EnvVar(variable)`` when the variable is set and not blank, else ``default``."""
    if not (dg.EnvVar(variable).get_value() or "").strip():
        return default
    if isinstance(default, int):
        return dg.EnvVar.int(variable)
    return dg.EnvVar(variable)  # type: ignore[return-value]  # an EnvVar is a str


def field_default(resource: type[dg.ConfigurableResource[Any]], field: str) -> Any:
    """The default a resource's field declares: its one home."""
    return resource.model_fields[field].default


# Each SyncSettings field and the variable that sets it; unset, a field keeps its own default.
SYNC_SETTINGS_VARIABLES = {
    "max_batch_size": "BENCHSYNC_MAX_BATCH_SIZE",
    "max_batch_bytes": "BENCHSYNC_MAX_BATCH_BYTES",
    "max_runs_in_flight": "BENCHSYNC_MAX_RUNS_IN_FLIGHT",
    "max_attempts": "BENCHSYNC_MAX_ATTEMPTS",
    "max_pending_seconds": "BENCHSYNC_MAX_PENDING_SECONDS",
    "run_timeout_seconds": "BENCHSYNC_RUN_TIMEOUT_SECONDS",
    "stranded_after_seconds": "BENCHSYNC_STRANDED_AFTER_SECONDS",
    "config_refresh_seconds": "BENCHSYNC_CONFIG_REFRESH_SECONDS",
    "schemas": "BENCHSYNC_SCHEMAS",
    "inbox_retention_days": "BENCHSYNC_INBOX_RETENTION_DAYS",
    "reconcile_max_vanished_percent": "BENCHSYNC_RECONCILE_MAX_VANISHED_PERCENT",
    "poll_interval_seconds": POLL_INTERVAL_VARIABLE,
    "heartbeat_interval_seconds": "BENCHSYNC_HEARTBEAT_INTERVAL_SECONDS",
    "heartbeat_stale_seconds": "BENCHSYNC_HEARTBEAT_STALE_SECONDS",
}


def resources_from_env() -> dict[str, dg.ConfigurableResource[Any]]:
    postgres = PostgresResource(database_url=dg.EnvVar(DATABASE_URL_VARIABLE))
    return {
        "postgres": postgres,
        "benchling": BenchlingResource(
            postgres=postgres,
            tenant_url=dg.EnvVar("BENCHLING_TENANT_URL"),
            client_id=dg.EnvVar("CLIENT_ID"),
            client_secret_file=env_or("CLIENT_SECRET_FILE", None),
            client_secret=env_or("CLIENT_SECRET", None),
            app_id=env_or("BENCHLING_APP_ID", None),
            rate_limit=env_or(
                "BENCHSYNC_BENCHLING_RATE_LIMIT", field_default(BenchlingResource, "rate_limit")
            ),
        ),
        "sync_settings": SyncSettings(
            **{
                field: env_or(variable, field_default(SyncSettings, field))
                for field, variable in SYNC_SETTINGS_VARIABLES.items()
            }
        ),
        "dagster_webserver": DagsterWebserver(
            url=env_or(WEBSERVER_URL_VARIABLE, field_default(DagsterWebserver, "url"))
        ),
    }


def positive_int_at_load(field: str) -> int:
    """A SyncSettings field the poll sensor's definition needs (its interval, its runs' time
    limit), read from its variable when the code location loads; a value that is not a positive
    integer keeps the default, and ``SyncSettings`` then refuses it by name at the first run."""
    default: int = field_default(SyncSettings, field)
    try:  # int() as dg.EnvVar.int reads it, so both see the same number
        value = int(dg.EnvVar(SYNC_SETTINGS_VARIABLES[field]).get_value() or "")
    except ValueError:
        return default
    return value if value > 0 else default


def catalogued_tables() -> list[TypedTable]:
    """The typed tables' catalog as the database holds it now (none when the database cannot be
    read: ``typed_tables_sensor`` reloads the location, and the assets appear, once it can)."""
    url = dg.EnvVar(DATABASE_URL_VARIABLE).get_value()
    if not url:
        return []
    try:
        with psycopg.connect(url, connect_timeout=10) as connection:
            return list(typed_tables.load(connection).values())
    except psycopg.Error as error:
        logging.getLogger(__name__).warning(f"typed tables not loaded as assets: {error}")
        return []


def build_definitions(
    resources: Mapping[str, dg.ConfigurableResource[Any]],
    reconcile_cron: str | None = None,
    poll_interval_seconds: int = DEFAULT_POLL_INTERVAL_SECONDS,
    tables: Sequence[TypedTable] = (),
    run_timeout_seconds: int = SYNC_RUN_TIMEOUT_SECONDS,
    location_name: str | None = None,
) -> dg.Definitions:
    """Everything benchsync defines, run with ``resources`` (tests pass their own), with an
    asset per typed table in ``tables``, as the code location Dagster calls ``location_name``
    (which ``typed_tables_sensor`` reloads). The runs' heartbeat, unless given, writes with the
    ``postgres`` and the ``sync_settings`` given."""
    heartbeat = RunHeartbeat(
        postgres=resources["postgres"], sync_settings=resources["sync_settings"]
    )
    return dg.Definitions(
        assets=[
            benchling_registry,
            benchling_webhook_inbox,
            benchling_app_configuration,
            benchling_entity_snapshots,
            synced_benchling_data,
            registry_reconciliation,
            registry_poll,
            *typed_table_specs(tables, benchling_entity_snapshots.key),
        ],
        asset_checks=[
            no_event_pending_too_long,
            no_recent_dead_letters,
            benchling_answers,
            typed_tables_complete,
            *typed_table_checks(tables),
        ],
        jobs=[
            sync_job,
            app_configuration_job,
            requeue_job,
            reconciliation_job,
            poll_job,
            inbox_retention_job,
            typed_table_backfill_job,
        ],
        sensors=[
            inbox_sensor,
            retry_failed_batches,
            settle_cancelled_batches,
            fail_orphaned_runs,
            sync_health_sensor,
            typed_table_backfill_sensor,
            poll_sensor(poll_interval_seconds, run_timeout_seconds),
            typed_tables_sensor(catalog_fingerprint(tables), location_name),
        ],
        schedules=[reconciliation_schedule(reconcile_cron), inbox_retention_schedule],
        resources={"run_heartbeat": heartbeat, **resources},
    )


class TypedTableCatalog(StateBackedDefinitionsLoader[str]):
    """The definitions built from the typed tables' catalog: read from Postgres when the code
    location initializes (the code server), taken from the reconstruction metadata when it is
    reconstructed (a run worker, with the catalog the run was planned with)."""

    def __init__(self, build: Callable[[Sequence[TypedTable]], dg.Definitions]) -> None:
        self.build = build

    @property
    def defs_key(self) -> str:
        return "benchsync/typed_table_catalog"

    def fetch_state(self) -> str:
        return catalog_json(catalogued_tables())

    def defs_from_state(self, state: str) -> dg.Definitions:
        return self.build(tables_from_json(state))


@dg.definitions
def defs() -> dg.Definitions:
    location_name = DefinitionsLoadContext.get().code_location_name
    catalog = TypedTableCatalog(
        lambda tables: build_definitions(
            resources_from_env(),
            dg.EnvVar(RECONCILE_CRON_VARIABLE).get_value(),
            positive_int_at_load("poll_interval_seconds"),
            tables,
            positive_int_at_load("run_timeout_seconds"),
            location_name,
        )
    )
    # Definitions.with_reconstruction_metadata, which the loader calls, is in preview; Dagster
    # is pinned and tests/end_to_end/test_typed_table_assets.py checks the hand-over.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return catalog.build_defs()

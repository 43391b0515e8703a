"""The resources every asset, check and sensor uses: benchsync's Postgres, Benchling, and the
sync's own settings. Each is configured through typed fields, which ``definitions.py`` wires to
environment variables with ``dg.EnvVar``; tests set the fields instead.

Dagster resolves an ``EnvVar`` when a run or a tick first uses the resource, so a missing
variable is reported there, by name, and never stops the code location from loading. The values
are checked at the same moment (``setup_for_execution``), with messages naming the variable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

import dagster as dg
import psycopg
from benchling_sdk.benchling import Benchling
from psycopg_pool import ConnectionPool
from pydantic import Field, PrivateAttr

from benchsync_core.settings import (
    DATABASE_URL_VARIABLE,
    ConfigurationError,
    positive,
    secret_from_file,
)
from benchsync_dagster.benchling.client import build_client
from benchsync_dagster.benchling.fetch import describe_schema
from benchsync_dagster.benchling.pacing import (
    RATE_WINDOW_SECONDS,
    WINDOW_MARGIN_SECONDS,
    CallStats,
    PacedTransport,
)
from benchsync_dagster.storage.benchling_budget import PostgresBudget
from benchsync_dagster.storage.benchling_outage import OutageRecorder
from benchsync_dagster.typed.catalog import SchemaDefinition

# A batch of 2,000 takes seconds, or minutes under a tight rate limit; a run orphaned by a
# crash, forever.
SYNC_RUN_TIMEOUT_SECONDS = 600
# A run process holds ~220 MiB of its own (Dagster, pandas, the SDK, the batch's events); each
# byte of the documents it holds costs a few more (the response, parsed, as JSON, as query
# parameters): 8 MiB keeps a run near 260 MiB whatever the documents, where 16 MiB reached
# 300 (benchmarks/sync_memory.py), and still writes 2,000 custom entities (~3 kB each) in two.
MAX_BATCH_BYTES = 8 * 1024 * 1024


class DeploymentSettingInRunConfig(ConfigurationError):
    """A run's config tried to set where credentials go; only the deployment may."""


def refuse_deployment_settings_in_run_config(
    context: dg.InitResourceContext, variables: Mapping[str, str]
) -> None:
    """Fail the run if its config sets any field in ``variables`` (field → its variable).

    The UI has no login, and Launchpad or GraphQL run config may set any resource field: a
    tenant URL, a secret file or a database URL set there would send the App's credentials or
    the database password elsewhere, or read any file. Only ``{env: <its own variable>}``, what
    the deployment sets anyway, is let through.
    """
    run = context.run
    if run is None:  # a sensor's or schedule's tick: no run config exists
        return
    for path, field, value in _config_fields(run.run_config.get("resources"), "resources"):
        variable = variables.get(field)
        if variable is not None and value != {"env": variable}:
            raise DeploymentSettingInRunConfig(
                f"run config may not set {path}: it is a deployment setting ({variable});"
                " remove it from the run config"
            )


def _config_fields(config: object, path: str) -> Iterator[tuple[str, str, object]]:
    """Every field at any depth of a run config section, as (dotted path, name, value): a
    resource nested in another is configured under its parent's ``config``."""
    if isinstance(config, dict):
        for name, value in config.items():
            yield f"{path}.{name}", name, value
            yield from _config_fields(value, f"{path}.{name}")


class PostgresResource(dg.ConfigurableResource["PostgresResource"]):
    """benchsync's database: the inbox (schema ``benchsync``) and the synced tables."""

    # Where the database password goes: set by the deployment only, never by a run's config.
    DEPLOYMENT_VARIABLES: ClassVar[Mapping[str, str]] = {"database_url": DATABASE_URL_VARIABLE}

    database_url: str = Field(
        description="libpq connection string or postgresql:// URL (BENCHSYNC_DATABASE_URL)"
    )
    _pool: ConnectionPool[psycopg.Connection[Any]] | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        refuse_deployment_settings_in_run_config(context, self.DEPLOYMENT_VARIABLES)
        self._pool = ConnectionPool(
            self.database_url, min_size=0, max_size=4, timeout=10, open=True
        )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._pool is not None:
            self._pool.close()

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection whose work commits when the block ends (and rolls back if it raises)."""
        assert self._pool is not None, "PostgresResource used outside of an execution"
        with self._pool.connection() as connection:
            yield connection

    @contextmanager
    def session(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection of its own in autocommit mode, for work in many short transactions."""
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            yield connection


class SyncSettings(dg.ConfigurableResource["SyncSettings"]):
    """How the sensor batches and retries, and what the checks hold the sync to."""

    max_batch_size: int = Field(
        default=2000,
        description="events per run; whole hundreds fill bulk-get calls (BENCHSYNC_MAX_BATCH_SIZE)",
    )
    max_batch_bytes: int = Field(
        default=MAX_BATCH_BYTES,
        description="the most of Benchling's documents (as JSON) a sync run holds at once: it"
        " writes what it fetched each time it holds half, and sizes each call to the other half"
        " (BENCHSYNC_MAX_BATCH_BYTES)",
    )
    max_runs_in_flight: int = Field(
        default=2,
        description="the sensor holds new batches while this many sync runs are queued or running"
        " (BENCHSYNC_MAX_RUNS_IN_FLIGHT)",
    )
    max_attempts: int = Field(
        default=3,
        description="runs per batch before its events are dead-lettered (BENCHSYNC_MAX_ATTEMPTS)",
    )
    max_pending_seconds: int = Field(
        default=900,
        description="the pending-age check fails beyond this (BENCHSYNC_MAX_PENDING_SECONDS)",
    )
    run_timeout_seconds: int = Field(
        default=SYNC_RUN_TIMEOUT_SECONDS,
        description="run monitoring cancels a sync or poll run still going after this; a sync"
        " run is tried again, the next poll goes on from the watermark"
        " (BENCHSYNC_RUN_TIMEOUT_SECONDS)",
    )
    stranded_after_seconds: int = Field(
        default=600,
        description="an event the sensor has read, still pending this long after it arrived and"
        " in no queued, running or recent run, is requeued (BENCHSYNC_STRANDED_AFTER_SECONDS)",
    )
    poll_interval_seconds: int = Field(
        default=300,
        description="the incremental poll of every entity type runs this often"
        " (BENCHSYNC_POLL_INTERVAL_SECONDS; read when the code location loads)",
    )
    schemas: str = Field(
        default="all",
        description="which schemas are mirrored: all, or a comma-separated list of schema ids"
        " (BENCHSYNC_SCHEMAS); entities of others are ignored with a reason",
    )
    config_refresh_seconds: int = Field(
        default=300,
        description="a sync run reads the App configuration from Benchling again when the stored"
        " one is older than this (BENCHSYNC_CONFIG_REFRESH_SECONDS)",
    )
    inbox_retention_days: int = Field(
        default=30,
        description="synced and ignored inbox rows are deleted this many days after they"
        " finished; pending and dead ones never are (BENCHSYNC_INBOX_RETENTION_DAYS)",
    )
    heartbeat_interval_seconds: int = Field(
        default=5,
        description="a run of a job that calls Benchling writes its heartbeat this often"
        " (BENCHSYNC_HEARTBEAT_INTERVAL_SECONDS)",
    )
    heartbeat_stale_seconds: int = Field(
        default=45,
        description="such a run silent this long (no heartbeat, or none since it started; twice"
        " this since its launch while starting), and still three intervals later, is failed as"
        " orphaned and retried; at least three intervals (BENCHSYNC_HEARTBEAT_STALE_SECONDS)",
    )
    reconcile_max_vanished_percent: int = Field(
        default=10,
        description="a full reconciliation archives the entities Benchling no longer returns"
        " only while they are at most this percentage of their type's mirrored entities (and"
        " not all of them); beyond, it archives none of that type and fails its check"
        " (BENCHSYNC_RECONCILE_MAX_VANISHED_PERCENT, 0 to 100)",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        positive(self.max_batch_size, "BENCHSYNC_MAX_BATCH_SIZE")
        positive(self.max_batch_bytes, "BENCHSYNC_MAX_BATCH_BYTES")
        positive(self.inbox_retention_days, "BENCHSYNC_INBOX_RETENTION_DAYS")
        positive(self.max_runs_in_flight, "BENCHSYNC_MAX_RUNS_IN_FLIGHT")
        positive(self.max_attempts, "BENCHSYNC_MAX_ATTEMPTS")
        positive(self.max_pending_seconds, "BENCHSYNC_MAX_PENDING_SECONDS")
        positive(self.run_timeout_seconds, "BENCHSYNC_RUN_TIMEOUT_SECONDS")
        positive(self.stranded_after_seconds, "BENCHSYNC_STRANDED_AFTER_SECONDS")
        positive(self.config_refresh_seconds, "BENCHSYNC_CONFIG_REFRESH_SECONDS")
        positive(self.poll_interval_seconds, "BENCHSYNC_POLL_INTERVAL_SECONDS")
        positive(self.heartbeat_interval_seconds, "BENCHSYNC_HEARTBEAT_INTERVAL_SECONDS")
        if self.heartbeat_stale_seconds < 3 * self.heartbeat_interval_seconds:
            raise ConfigurationError(
                "BENCHSYNC_HEARTBEAT_STALE_SECONDS must be at least three"
                " BENCHSYNC_HEARTBEAT_INTERVAL_SECONDS, got"
                f" {self.heartbeat_stale_seconds} and {self.heartbeat_interval_seconds}"
            )
        if not 0 <= self.reconcile_max_vanished_percent <= 100:
            raise ConfigurationError(
                "BENCHSYNC_RECONCILE_MAX_VANISHED_PERCENT must be a percentage from 0 to 100, got"
                f" {self.reconcile_max_vanished_percent!r}"
            )
        self.mirrored_schemas()  # a bad value fails here, by name

    def mirrored_schemas(self) -> frozenset[str] | None:
        """The schema ids to mirror, or None for all of them."""
        if self.schemas.strip().lower() == "all":
            return None
        ids = frozenset(part.strip() for part in self.schemas.split(",") if part.strip())
        if not ids:
            raise ConfigurationError(
                f"BENCHSYNC_SCHEMAS must be 'all' or schema ids separated by commas, got"
                f" {self.schemas!r}"
            )
        return ids


class BenchlingResource(dg.ConfigurableResource["BenchlingResource"]):
    """benchling-sdk for one tenant, signed in as the App, paced to its rate limit.

    The limit holds for the whole deployment: every run and tick takes its slots from one
    budget in benchsync's database (``storage/benchling_budget.py``).
    """

    # Where the App's credentials go and where its secret is read from: the deployment's
    # settings, never a run's config (their fields stay visible on the resource page).
    DEPLOYMENT_VARIABLES: ClassVar[Mapping[str, str]] = {
        "tenant_url": "BENCHLING_TENANT_URL",
        "client_id": "CLIENT_ID",
        "client_secret_file": "CLIENT_SECRET_FILE",
        "client_secret": "CLIENT_SECRET",
        "app_id": "BENCHLING_APP_ID",
    }

    postgres: PostgresResource

    tenant_url: str = Field(
        description="e.g. https://my-tenant.benchling.com (BENCHLING_TENANT_URL)"
    )
    client_id: str = Field(description="the App's client id (CLIENT_ID)")
    client_secret_file: str | None = Field(
        default=None, description="a file holding the App's client secret (CLIENT_SECRET_FILE)"
    )
    client_secret: str | None = Field(
        default=None, description="the secret itself, where no file is used (CLIENT_SECRET)"
    )
    app_id: str | None = Field(
        default=None,
        description="the App's installation id; read from the newest webhook when unset"
        " (BENCHLING_APP_ID)",
    )
    rate_limit: int = Field(
        default=60,
        description="requests per 30 s this deployment may spend, all processes together"
        " (BENCHSYNC_BENCHLING_RATE_LIMIT)",
    )
    rate_window_seconds: float = Field(
        default=RATE_WINDOW_SECONDS, description="the window Benchling counts requests in"
    )
    retry_backoff_seconds: float = Field(
        default=1.0,
        description="first wait before retrying a 502/503/504, doubling; the least 429 wait",
    )

    _transport: PacedTransport | None = PrivateAttr(default=None)
    _client: Benchling | None = PrivateAttr(default=None)
    _schemas: dict[str, SchemaDefinition | None] = PrivateAttr(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        refuse_deployment_settings_in_run_config(context, self.DEPLOYMENT_VARIABLES)
        if not self.tenant_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"BENCHLING_TENANT_URL must start with https://, got {self.tenant_url!r}"
            )
        positive(self.rate_limit, "BENCHSYNC_BENCHLING_RATE_LIMIT")
        budget = PostgresBudget(
            self.postgres.transaction,
            self.tenant_url,
            self.rate_limit,
            self.rate_window_seconds + WINDOW_MARGIN_SECONDS,
        )
        self._transport = PacedTransport(
            budget,
            health=OutageRecorder(self.postgres.transaction),
            least_throttle_wait=self.retry_backoff_seconds,
        )
        self._client = build_client(
            self.tenant_url.rstrip("/"),
            self.client_id,
            self._secret(),
            self.retry_backoff_seconds,
            self._transport,
        )

    def _secret(self) -> str:
        if self.client_secret_file:
            return secret_from_file(self.client_secret_file, "CLIENT_SECRET_FILE")
        if self.client_secret:
            return self.client_secret
        raise ConfigurationError("set CLIENT_SECRET_FILE (or CLIENT_SECRET) to the App's secret")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._transport is not None:
            self._transport.close()

    @property
    def client(self) -> Benchling:
        assert self._client is not None, "BenchlingResource used outside of an execution"
        return self._client

    def describe_schema(self, schema_id: str) -> SchemaDefinition | None:
        """The entity schema's definition (what a typed table follows), read once per run."""
        if schema_id not in self._schemas:
            self._schemas[schema_id] = describe_schema(self.client, schema_id)
        return self._schemas[schema_id]

    @property
    def call_stats(self) -> CallStats:
        assert self._transport is not None, "BenchlingResource used outside of an execution"
        return self._transport.stats

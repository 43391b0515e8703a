"""The two outside systems every asset and sensor talks to: benchsync's Postgres and Benchling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from benchling_sdk.benchling import Benchling
from dagster import ConfigurableResource, InitResourceContext
from psycopg_pool import ConnectionPool
from pydantic import PrivateAttr

from benchsync_dagster.benchling_api import (
    CallStats,
    PacedTransport,
    SyncTarget,
    SyncTargetCache,
    build_client,
    read_sync_target,
)
from benchsync_dagster.settings import BenchlingSettings, ConfigurationError, SyncSettings

# One per code-location process: the sensor reads the App configuration once per refresh period.
_sync_target_cache = SyncTargetCache(SyncSettings.from_env().config_refresh_seconds)


class PostgresResource(ConfigurableResource["PostgresResource"]):
    """benchsync's database: the inbox (schema ``benchsync``) and the synced tables."""

    database_url: str
    _pool: ConnectionPool[psycopg.Connection[Any]] | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._pool = ConnectionPool(
            self.database_url, min_size=0, max_size=4, timeout=10, open=True
        )

    def teardown_after_execution(self, context: InitResourceContext) -> None:
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


class BenchlingResource(ConfigurableResource["BenchlingResource"]):
    """benchling-sdk for the tenant the environment names, paced to its rate limit."""

    _settings: BenchlingSettings | None = PrivateAttr(default=None)
    _transport: PacedTransport | None = PrivateAttr(default=None)
    _client: Benchling | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._settings = BenchlingSettings.from_env()
        self._transport = PacedTransport(
            self._settings.rate_limit, least_throttle_wait=self._settings.retry_backoff_seconds
        )
        self._client = build_client(self._settings, self._transport)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._transport is not None:
            self._transport.close()

    @property
    def client(self) -> Benchling:
        assert self._client is not None, "BenchlingResource used outside of an execution"
        return self._client

    @property
    def call_stats(self) -> CallStats:
        assert self._transport is not None, "BenchlingResource used outside of an execution"
        return self._transport.stats

    def sync_target(self, fallback_app_id: str | None) -> SyncTarget:
        """The App configuration's "Synced Schema" and "Synced Field Data", cached."""
        assert self._settings is not None, "BenchlingResource used outside of an execution"
        app_id = self._settings.app_id or fallback_app_id
        if app_id is None:
            raise ConfigurationError(
                "BENCHLING_APP_ID is not set and no webhook has told us the App's id yet"
            )
        return _sync_target_cache.get(lambda: read_sync_target(self.client, app_id))

    @staticmethod
    def forget_sync_target() -> None:
        """Read the App configuration anew at next use (it was updated in Benchling)."""
        _sync_target_cache.invalidate()

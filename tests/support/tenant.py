"""The real flow up to the inbox: the emulator signs webhooks, the bridge (over HTTP) records them.

- ``tenant``: an emulator whose webhooks go to a bridge serving the session's database, with
  the environment (``BENCHLING_*``, ``CLIENT_*``, ``BENCHSYNC_DATABASE_URL``) pointing at both,
  as a deployment's would be; ``tenant.definitions()`` are benchsync's with resources set
  field by field instead.
- ``register(tenant, n)``: register n entities and wait until their webhooks are recorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import httpx
import psycopg
import pytest
from werkzeug.serving import make_server

from benchling_emulator.server import EmulatorServer
from benchsync_dagster.definitions import build_definitions
from benchsync_dagster.defs.resources import BenchlingResource, PostgresResource, SyncSettings
from benchsync_dagster.defs.typed.sensors import DagsterWebserver
from tests.support.emulator import MakeEmulator
from tests.support.webhooks import close_pool
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.app import create_app
from webhook_sensor_bridge.settings import Settings

# Benchling's 5xx retries wait this long at first: short, so that fault tests stay quick.
TEST_RETRY_BACKOFF_SECONDS = 0.05


@dataclass
class Tenant:
    emulator: EmulatorServer
    bridge_url: str
    database_url: str

    def control(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.emulator.base_url}/_emulator/{path}", json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def control_get(self, path: str) -> Any:
        response = httpx.get(f"{self.emulator.base_url}/_emulator/{path}", timeout=30)
        response.raise_for_status()
        return response.json()

    def benchling_resource(self, **fields: Any) -> BenchlingResource:
        """The Benchling resource signed in to this tenant; ``fields`` override its settings."""
        settings = self.emulator.settings
        return BenchlingResource(
            **{
                "postgres": PostgresResource(database_url=self.database_url),
                "tenant_url": self.emulator.base_url,
                "client_id": settings.client_id,
                "client_secret": settings.client_secret,
                "app_id": settings.app_id,
                "retry_backoff_seconds": TEST_RETRY_BACKOFF_SECONDS,
                **fields,
            }
        )

    def resources(self, **sync_settings: Any) -> dict[str, dg.ConfigurableResource[Any]]:
        """The resources a deployment on this tenant configures, fields set directly."""
        return {
            "postgres": PostgresResource(database_url=self.database_url),
            "benchling": self.benchling_resource(),
            "sync_settings": SyncSettings(**sync_settings),
            "dagster_webserver": DagsterWebserver(),
        }

    def definitions(self, **resources: dg.ConfigurableResource[Any]) -> dg.Definitions:
        """benchsync's definitions on this tenant, with any of its resources replaced."""
        return build_definitions({**self.resources(), **resources})


@pytest.fixture
def make_tenant(
    make_emulator: MakeEmulator,
    migrated_database_url: str,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Any]:
    """``make_tenant(**emulator_settings)``; one per test, as the environment names one tenant."""
    servers: list[Any] = []

    def make(**emulator_settings: Any) -> Tenant:
        emulator = make_emulator(**emulator_settings)
        app = create_app(Settings(database_url=migrated_database_url, jwks_url=emulator.jwks_url))
        http = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True).start()
        servers.append((emulator, http, app))
        tenant = Tenant(
            emulator, f"http://127.0.0.1:{http.server_port}/1/webhooks", migrated_database_url
        )
        tenant.control("webhook-urls", {"urls": [tenant.bridge_url]})
        for name, value in emulator.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("BENCHSYNC_DATABASE_URL", migrated_database_url)
        return tenant

    yield make
    for emulator, http, app in servers:
        # Deliveries first: a redelivery still in flight would land in the next test's inbox.
        emulator.stop()
        http.shutdown()
        close_pool(app)


@pytest.fixture
def tenant(make_tenant: Any) -> Tenant:
    return make_tenant()  # type: ignore[no-any-return]


def register(
    tenant: Tenant,
    count: int,
    timeout: float = 30.0,
    types: list[str] | None = None,
    schema_id: str | None = None,
) -> list[str]:
    """Register ``count`` entities (custom entities, or of ``types`` in turn, or of the schema
    ``schema_id``); returns their ids once the inbox holds their webhooks."""
    body: dict[str, Any] = {"count": count}
    if types:
        body["types"] = types
    if schema_id:
        body["schema_id"] = schema_id
    ids: list[str] = tenant.control("register", body)["ids"]
    deadline = time.monotonic() + timeout
    # Waits for these entities' rows, not for a row count, which any stray row would satisfy.
    while (recorded := entities_in_inbox(tenant.database_url, ids)) < count:
        assert time.monotonic() < deadline, f"{count - recorded} of {count} not in the inbox"
        time.sleep(0.05)
    return ids


def entities_in_inbox(database_url: str, entity_ids: list[str]) -> int:
    # One webhook per registration: the events about these entities number the entities.
    with psycopg.connect(database_url) as connection:
        return inbox.count_by_state(connection, entity_ids).total


def pending_webhook_ids(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT webhook_id FROM benchsync.inbox WHERE state = 'pending' ORDER BY seq"
        ).fetchall()
    return [webhook_id for (webhook_id,) in rows]


def inbox_states(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT state, count(*) FROM benchsync.inbox GROUP BY state"
        ).fetchall()
    return {state: count for state, count in rows}

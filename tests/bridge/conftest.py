"""Bridge fixtures: the app on a real Postgres, verifying against the emulator's JWKS; helpers."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from benchling_emulator.server import EmulatorServer
from benchling_emulator.signing import WebhookSigner
from benchsync_dagster import database
from tests.support.postgres import create_database, drop_database
from webhook_sensor_bridge.app import WebhookReceiver, create_app
from webhook_sensor_bridge.settings import Settings


@pytest.fixture
def signer(emulator: EmulatorServer) -> WebhookSigner:
    """The emulated tenant's webhook signer; its public key is at ``emulator.jwks_url``."""
    return emulator.signer


@pytest.fixture
def fresh_inbox_url(postgres_server_url: str) -> Iterator[str]:
    """A database of its own, migrated, for tests that count the whole inbox."""
    url = create_database(postgres_server_url)
    database.upgrade(url)
    yield url
    drop_database(postgres_server_url, url)


@pytest.fixture
def settings(migrated_database_url: str, emulator: EmulatorServer) -> Settings:
    return Settings(database_url=migrated_database_url, jwks_url=emulator.jwks_url)


def close_pool(app: Flask) -> None:
    receiver: WebhookReceiver = app.extensions["webhook_receiver"]
    receiver.pool.close()


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    close_pool(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def envelope(
    message_type: str = "v2.entity.registered", channel: str = "events", **message: Any
) -> bytes:
    """A webhook body shaped like Benchling's ``WebhookEnvelopeV0``."""
    return json.dumps(
        {
            "version": "0",
            "baseURL": "https://tenant.benchling.com",
            "tenantId": "ten_test",
            "app": {"id": "app_test"},
            "appDefinition": {"id": "appdef_test", "versionNumber": "0.1.0"},
            "channel": channel,
            "message": {
                "id": f"evt_{uuid.uuid4().hex[:12]}",
                "createdAt": "2026-11-28T01:02:03.456Z",
                "type": message_type,
                "schema": {"id": "ts_test"},
                "resourceId": f"bfi_{uuid.uuid4().hex[:8]}",
                "deprecated": False,
                "excludedProperties": [],
                **message,
            },
        }
    ).encode()


def inbox_row(database_url: str, webhook_id: str) -> dict[str, Any] | None:
    with psycopg.connect(database_url) as connection:
        cursor = connection.execute(
            "SELECT * FROM benchsync.inbox WHERE webhook_id = %s", (webhook_id,)
        )
        row = cursor.fetchone()
        if row is None:
            return None
        assert cursor.description is not None
        return {column.name: value for column, value in zip(cursor.description, row, strict=True)}


def inbox_total(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT count(*) FROM benchsync.inbox").fetchone()
    assert row is not None
    return int(row[0])

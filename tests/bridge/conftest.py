"""Bridge fixtures: the app on a real Postgres, verifying against the emulator's JWKS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from benchling_emulator.server import EmulatorServer
from benchling_emulator.signing import WebhookSigner
from benchsync_core import migrations
from tests.support.postgres import create_database, drop_database
from tests.support.webhooks import close_pool
from webhook_sensor_bridge.app import create_app
from webhook_sensor_bridge.settings import Settings


@pytest.fixture
def signer(emulator: EmulatorServer) -> WebhookSigner:
    """The emulated tenant's webhook signer; its public key is at ``emulator.jwks_url``."""
    return emulator.signer


@pytest.fixture
def fresh_inbox_url(postgres_server_url: str) -> Iterator[str]:
    """A database of its own, migrated, for tests that count the whole inbox."""
    url = create_database(postgres_server_url)
    migrations.upgrade(url)
    yield url
    drop_database(postgres_server_url, url)


@pytest.fixture
def settings(migrated_database_url: str, emulator: EmulatorServer) -> Settings:
    return Settings(database_url=migrated_database_url, jwks_url=emulator.jwks_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    close_pool(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()

"""The database stops mid-test: the bridge answers 503 (acknowledging nothing), then recovers by
itself when the database returns, and no acknowledged webhook is lost.

It uses its own embedded Postgres, never the machine's shared server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient
from pgserver import pg_ctl  # type: ignore[attr-defined]  # made at import time, per binary
from pgserver.postgres_server import PostgresServer, get_server

from benchling_emulator.server import EmulatorServer
from benchling_emulator.signing import WebhookSigner
from benchsync_core import migrations
from tests.support.webhooks import close_pool, envelope, new_webhook_id
from webhook_sensor_bridge.app import create_app
from webhook_sensor_bridge.settings import Settings

# Benchling gives up after 3 s; the bridge must say 503 well before.
OUTAGE_ANSWER_LIMIT_SECONDS = 2.5


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.server: PostgresServer = get_server(data_dir, cleanup_mode="delete")
        self.url = self.server.get_uri()
        self._socket_dir = self.server.get_postmaster_info().socket_dir

    def stop(self) -> None:
        pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user
        )

    def start(self) -> None:
        pg_ctl(
            [
                "-w",
                "-o",
                '-h ""',
                "-o",
                f"-k {self._socket_dir}",
                "-l",
                str(self.server.log),
                "start",
            ],
            pgdata=self.server.pgdata,
            user=self.server.system_user,
        )


@pytest.fixture
def embedded_postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    postgres = EmbeddedPostgres(tmp_path / "pgdata")
    yield postgres
    postgres.server.cleanup()


def timed_status(call: object) -> tuple[int, float]:
    started = time.monotonic()
    response = call()  # type: ignore[operator]
    return response.status_code, time.monotonic() - started


def test_a_database_outage_gives_503_then_recovers_with_nothing_lost(
    embedded_postgres: EmbeddedPostgres, emulator: EmulatorServer, signer: WebhookSigner
) -> None:
    migrations.upgrade(embedded_postgres.url)
    app = create_app(Settings(database_url=embedded_postgres.url, jwks_url=emulator.jwks_url))
    client: FlaskClient = app.test_client()

    def deliver(webhook_id: str) -> object:
        body = envelope()
        return lambda: client.post(
            "/1/webhooks", data=body, headers=signer.signed_headers(body, webhook_id)
        )

    try:
        before, during = new_webhook_id(), new_webhook_id()
        assert timed_status(deliver(before))[0] == 200

        embedded_postgres.stop()
        post_status, post_seconds = timed_status(deliver(during))
        health_status, health_seconds = timed_status(lambda: client.get("/health"))
        assert (post_status, health_status) == (503, 503)
        assert max(post_seconds, health_seconds) < OUTAGE_ANSWER_LIMIT_SECONDS

        embedded_postgres.start()
        deadline = time.monotonic() + 10
        while (status := timed_status(deliver(during))[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200
        assert client.get("/health").status_code == 200
    finally:
        close_pool(app)

    with psycopg.connect(embedded_postgres.url) as connection:
        stored = {row[0] for row in connection.execute("SELECT webhook_id FROM benchsync.inbox")}
    assert stored == {before, during}

"""The bridge on a database it cannot use as it should: clear 5xx answers in JSON, never
Flask's HTML page; and the least-privileged role it can run as (``benchsync db grant-bridge``)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from benchling_emulator.server import EmulatorServer
from benchling_emulator.signing import WebhookSigner
from benchsync.cli import main
from tests.support.postgres import create_database, drop_database
from tests.support.webhooks import close_pool, envelope, inbox_row, new_webhook_id
from webhook_sensor_bridge.app import create_app
from webhook_sensor_bridge.server import NotMigrated, check_database
from webhook_sensor_bridge.settings import Settings

URL = "/1/webhooks"


@pytest.fixture
def role(migrated_database_url: str) -> Iterator[str]:
    """A login role with no privileges on benchsync's tables, dropped afterwards."""
    name = f"bridge_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(migrated_database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(migrated_database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture
def unmigrated_database_url(postgres_server_url: str) -> Iterator[str]:
    url = create_database(postgres_server_url)
    yield url
    drop_database(postgres_server_url, url)


def _answers(
    database_url: str, emulator: EmulatorServer, signer: WebhookSigner, webhook_id: str
) -> tuple[int, str | None, dict[str, object], tuple[int, str]]:
    """(status, content type, JSON body) of one signed webhook, and /health's (status, text)."""
    app = create_app(Settings(database_url=database_url, jwks_url=emulator.jwks_url))
    try:
        client = app.test_client()
        body = envelope()
        response = client.post(URL, data=body, headers=signer.signed_headers(body, webhook_id))
        health = client.get("/health")
        return (
            response.status_code,
            response.mimetype,
            response.json or {},
            (health.status_code, health.text),
        )
    finally:
        close_pool(app)


def test_a_database_without_the_inbox_gets_a_json_500_naming_the_error(
    unmigrated_database_url: str,
    emulator: EmulatorServer,
    signer: WebhookSigner,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="webhook_sensor_bridge.app"):
        status, mimetype, body, health = _answers(
            unmigrated_database_url, emulator, signer, new_webhook_id()
        )

    assert (status, mimetype) == (500, "application/json")
    assert body == {"outcome": "database_error", "detail": "database error: UndefinedTable"}
    assert health == (500, "database error: UndefinedTable\n")
    assert "inbox: database error: UndefinedTable" in caplog.text


def test_a_role_without_grants_gets_a_json_500_and_the_bridge_refuses_to_start(
    migrated_database_url: str, role: str, emulator: EmulatorServer, signer: WebhookSigner
) -> None:
    as_role = make_conninfo(migrated_database_url, user=role)

    status, mimetype, body, health = _answers(as_role, emulator, signer, new_webhook_id())

    assert (status, mimetype) == (500, "application/json")
    assert body["detail"] == "database error: InsufficientPrivilege"
    assert health[0] == 500
    with pytest.raises(NotMigrated, match="benchsync db grant-bridge"):
        check_database(as_role)


def test_a_granted_role_records_webhooks_and_may_do_nothing_else(
    migrated_database_url: str,
    role: str,
    emulator: EmulatorServer,
    signer: WebhookSigner,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BENCHSYNC_DATABASE_URL", migrated_database_url)
    assert main(["db", "grant-bridge", role]) == 0
    assert f"{role} may now SELECT and INSERT benchsync.inbox" in capsys.readouterr().out
    as_role = make_conninfo(migrated_database_url, user=role)
    webhook_id = new_webhook_id()

    check_database(as_role)
    status, _, body, health = _answers(as_role, emulator, signer, webhook_id)
    again, _, body_again, _ = _answers(as_role, emulator, signer, webhook_id)

    assert (status, body, health) == (200, {"outcome": "recorded"}, (200, "OK"))
    assert (again, body_again) == (200, {"outcome": "duplicate"})
    row = inbox_row(migrated_database_url, webhook_id)
    assert row is not None and row["state"] == "pending"
    with psycopg.connect(as_role, autocommit=True) as connection:
        for statement in (
            "UPDATE benchsync.inbox SET state = 'synced'",
            "DELETE FROM benchsync.inbox",
            "SELECT 1 FROM benchling_entity_snapshots",
            "SELECT 1 FROM synced_benchling_data",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(statement)


def test_granting_a_role_that_does_not_exist_names_it(
    migrated_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BENCHSYNC_DATABASE_URL", migrated_database_url)

    assert main(["db", "grant-bridge", 'no "such" role']) == 2
    assert 'role "no "such" role" does not exist' in capsys.readouterr().err


def test_an_unknown_route_is_a_json_404(migrated_database_url: str) -> None:
    app = create_app(
        Settings(database_url=migrated_database_url, jwks_url=None, skip_verification=True)
    )
    response = app.test_client().get("/nowhere")

    assert (response.status_code, response.mimetype) == (404, "application/json")
    assert json.loads(response.text)["outcome"] == "http_error"

"""Settings from the environment, and ``benchsync status`` over a real inbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from benchsync import cli
from benchsync.status import read_status, render_table, status_document
from benchsync_core.settings import ConfigurationError
from tests.support.webhooks import envelope, new_webhook_id
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.events import Origin, parse_webhook
from webhook_sensor_bridge.settings import Settings

DATABASE = "postgresql://db.example/benchsync"


def test_settings_default_the_jwks_url_to_benchlings() -> None:
    settings = Settings.from_env(
        {"BENCHSYNC_DATABASE_URL": DATABASE, "APP_DEFINITION_ID": "appdef_abc"}
    )
    assert settings == Settings(
        database_url=DATABASE,
        jwks_url="https://apps.benchling.com/api/v1/apps/appdef_abc/jwks",
        origin=Origin(app_definition_id="appdef_abc"),
    )


def test_settings_know_the_app_definition_tenant_and_installation_webhooks_must_name() -> None:
    settings = Settings.from_env(
        {
            "BENCHSYNC_DATABASE_URL": DATABASE,
            "APP_DEFINITION_ID": "appdef_abc",
            "BENCHLING_TENANT_URL": "https://t.benchling.com",
            "BENCHLING_APP_ID": "app_abc",
        }
    )
    assert settings.origin == Origin("https://t.benchling.com", "app_abc", "appdef_abc")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_a_bridge_on_loopback_may_serve_without_the_tenant(host: str) -> None:
    Settings(database_url=DATABASE, jwks_url="http://jwks").check_host(host)


EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - what the tests check the bridge refuses


@pytest.mark.parametrize("host", [EVERY_INTERFACE, "", "::", "10.1.2.3", "bridge.example.com"])
def test_a_bridge_serving_beyond_loopback_needs_the_tenant(host: str) -> None:
    unset = Settings(database_url=DATABASE, jwks_url="http://jwks")
    with pytest.raises(ConfigurationError, match="BENCHLING_TENANT_URL is not set"):
        unset.check_host(host)

    Settings(
        database_url=DATABASE, jwks_url="http://jwks", origin=Origin("https://t.benchling.com")
    ).check_host(host)


def test_benchsync_bridge_refuses_to_serve_beyond_loopback_without_the_tenant() -> None:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("BENCHLING_TENANT_URL", "BENCHSYNC_INSECURE_SKIP_VERIFICATION")
    }
    environment |= {"BENCHSYNC_DATABASE_URL": DATABASE, "APP_DEFINITION_ID": "appdef_abc"}

    result = subprocess.run(
        [sys.executable, "-m", "benchsync.cli", "bridge", "--host", EVERY_INTERFACE],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("benchsync bridge: BENCHLING_TENANT_URL is not set")


def test_benchsync_bridge_names_the_bad_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BENCHSYNC_DATABASE_URL", DATABASE)
    monkeypatch.delenv("APP_DEFINITION_ID", raising=False)
    monkeypatch.delenv("BENCHSYNC_INSECURE_SKIP_VERIFICATION", raising=False)
    assert cli.main(["bridge"]) == 2
    assert "APP_DEFINITION_ID" in capsys.readouterr().err


def fill_inbox(url: str) -> None:
    """Three pending, one synced, one ignored, one dead."""
    with psycopg.connect(url, autocommit=True) as connection:
        ids = [new_webhook_id() for _ in range(5)]
        for webhook_id in ids:
            inbox.record(connection, parse_webhook(webhook_id, envelope()))
        inbox.record(connection, parse_webhook(new_webhook_id(), envelope("v2.app.installed")))
        inbox.mark_synced(connection, ids[:1])
        inbox.mark_dead(connection, ids[1:2], "entity not found")


def test_status_counts_the_inbox_by_state(fresh_inbox_url: str) -> None:
    with psycopg.connect(fresh_inbox_url) as connection:
        empty = read_status(connection)
    fill_inbox(fresh_inbox_url)
    with psycopg.connect(fresh_inbox_url) as connection:
        counts = read_status(connection)

    assert status_document(empty) == {
        "events": {"total": 0, "pending": 0, "synced": 0, "ignored": 0, "dead": 0},
        "oldest_pending_seconds": None,
        "last_synced_at": None,
        "last_reconciliation": None,
        "benchling": {"answering": True},
        "tables": [],
    }
    document = status_document(counts)
    assert document["events"] == {"total": 6, "pending": 3, "synced": 1, "ignored": 1, "dead": 1}
    assert 0 <= document["oldest_pending_seconds"] < 60
    table = render_table(counts)
    assert "pending" in table and "dead" in table and "oldest pending" in table
    assert document["last_synced_at"] is not None


def test_benchsync_status_json(
    fresh_inbox_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fill_inbox(fresh_inbox_url)
    monkeypatch.setenv("BENCHSYNC_DATABASE_URL", fresh_inbox_url)

    assert cli.main(["status", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) >= {"events", "oldest_pending_seconds"}
    assert document["events"]["total"] == 6

    assert cli.main(["status"]) == 0
    assert "pending" in capsys.readouterr().out

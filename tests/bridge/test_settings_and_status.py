"""Settings from the environment, and ``benchsync status`` over a real inbox."""

from __future__ import annotations

import json

import psycopg
import pytest

from benchsync import cli
from benchsync.settings import ConfigurationError
from benchsync.status import read_status, render_table, status_document
from tests.support.webhooks import envelope, new_webhook_id
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.events import parse_webhook
from webhook_sensor_bridge.settings import Settings

DATABASE = "postgresql://db.example/benchsync"


def test_settings_default_the_jwks_url_to_benchlings() -> None:
    settings = Settings.from_env(
        {"BENCHSYNC_DATABASE_URL": DATABASE, "APP_DEFINITION_ID": "appdef_abc"}
    )
    assert settings == Settings(
        database_url=DATABASE, jwks_url="https://apps.benchling.com/api/v1/apps/appdef_abc/jwks"
    )


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"APP_DEFINITION_ID": "appdef_abc"}, "BENCHSYNC_DATABASE_URL"),
        ({"BENCHSYNC_DATABASE_URL": DATABASE}, "APP_DEFINITION_ID"),
        ({"BENCHSYNC_DATABASE_URL": DATABASE, "APP_DEFINITION_ID": " "}, "APP_DEFINITION_ID"),
        (
            {
                "BENCHSYNC_DATABASE_URL": DATABASE,
                "APP_DEFINITION_ID": "a",
                "BENCHLING_JWKS_URL": "ftp://x",
            },
            "BENCHLING_JWKS_URL",
        ),
        (
            {"BENCHSYNC_DATABASE_URL": DATABASE, "BENCHSYNC_INSECURE_SKIP_VERIFICATION": "maybe"},
            "BENCHSYNC_INSECURE_SKIP_VERIFICATION",
        ),
    ],
)
def test_a_missing_or_bad_variable_is_named(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env(environ)


def test_skipping_verification_needs_no_app_definition() -> None:
    settings = Settings.from_env(
        {"BENCHSYNC_DATABASE_URL": DATABASE, "BENCHSYNC_INSECURE_SKIP_VERIFICATION": "1"}
    )
    assert settings.skip_verification and settings.jwks_url is None


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

"""The asset checks that run after every sync, invoked on their own."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg

from benchsync_dagster.defs.resources import PostgresResource, SyncSettings
from benchsync_dagster.defs.sync.checks import (
    no_event_pending_too_long,
    no_recent_dead_letters,
    sync_health_sensor,
)
from tests.support.webhooks import envelope
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.events import parse_webhook


def _check(check: Any, database_url: str, **resources: Any) -> dg.AssetCheckResult:
    result = check(postgres=PostgresResource(database_url=database_url), **resources)
    assert isinstance(result, dg.AssetCheckResult)
    return result


def test_an_event_pending_past_the_bound_fails_the_check(
    migrated_database_url: str, db: psycopg.Connection[Any]
) -> None:
    settings = SyncSettings(max_pending_seconds=60)
    inbox.record(db, parse_webhook("msg_old", envelope()))
    assert _check(no_event_pending_too_long, migrated_database_url, sync_settings=settings).passed

    db.execute("UPDATE benchsync.inbox SET received_at = now() - interval '2 minutes'")

    result = _check(no_event_pending_too_long, migrated_database_url, sync_settings=settings)
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN


def _health(
    database_url: str, cursor: str | None = None, **sync_settings: Any
) -> dg.SensorResult | dg.SkipReason:
    with dg.build_sensor_context(
        cursor=cursor,
        resources={
            "postgres": PostgresResource(database_url=database_url),
            "sync_settings": SyncSettings(**sync_settings),
        },
    ) as context:
        result = sync_health_sensor(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def _outcomes(result: dg.SensorResult | dg.SkipReason) -> dict[str, bool]:
    assert isinstance(result, dg.SensorResult)
    return {
        event.check_name: event.passed
        for event in result.asset_events
        if isinstance(event, dg.AssetCheckEvaluation)
    }


def test_the_health_sensor_reports_a_stall_without_any_run(
    migrated_database_url: str, db: psycopg.Connection[Any]
) -> None:
    healthy = _health(migrated_database_url)
    assert _outcomes(healthy) == {
        "no_event_pending_too_long": True,
        "no_recent_dead_letters": True,
        "benchling_answers": True,
    }
    assert isinstance(healthy, dg.SensorResult)
    assert isinstance(_health(migrated_database_url, healthy.cursor), dg.SkipReason)

    inbox.record(db, parse_webhook("msg_stuck", envelope()))
    db.execute("UPDATE benchsync.inbox SET received_at = now() - interval '2 hours'")

    stalled = _health(migrated_database_url, healthy.cursor)
    assert _outcomes(stalled) == {"no_event_pending_too_long": False}
    assert isinstance(stalled, dg.SensorResult)
    (evaluation,) = stalled.asset_events
    assert evaluation.asset_key == dg.AssetKey("benchling_webhook_inbox")  # the inbox's check


def test_dead_letters_fail_their_check_with_the_reasons(
    migrated_database_url: str, db: psycopg.Connection[Any]
) -> None:
    inbox.record(db, parse_webhook("msg_dead", envelope(resourceId="bfi_gone")))
    inbox.mark_dead(db, ["msg_dead"], "Benchling answered 404 for bfi_gone")

    result = _check(no_recent_dead_letters, migrated_database_url)

    assert not result.passed
    assert result.metadata["dead_letters"].value == 1
    assert "bfi_gone" in str(result.metadata["newest"].value)
    assert _outcomes(_health(migrated_database_url))["no_recent_dead_letters"] is False

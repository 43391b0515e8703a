"""Checks on the webhook inbox and on ``synced_benchling_data``.

They run after every sync (``one_row_per_entity``, over the run's own batch, is reported by
the ``synced_benchling_data`` step itself), and are also evaluated by ``sync_health_sensor`` on
its own, since a stall, a run of dead letters or Benchling not answering matters most exactly
when no sync runs. The two that watch the inbox are checks of ``benchling_webhook_inbox``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import psycopg

from benchsync_dagster.defs.resources import PostgresResource, SyncSettings
from benchsync_dagster.defs.sync.assets import synced_benchling_data
from benchsync_dagster.defs.upstream import benchling_webhook_inbox
from benchsync_dagster.storage import benchling_outage
from webhook_sensor_bridge import inbox

# Dead letters this recent fail no_recent_dead_letters (WARN); `benchsync replay` clears them.
DEAD_LETTER_WINDOW = timedelta(hours=24)
# The health sensor reports a check when its outcome changes, and at least this often (so that
# an outcome a sync run reported since is not left standing for long).
HEALTH_REPORT_EVERY = timedelta(minutes=15)


def pending_age(
    connection: psycopg.Connection[Any], bound_seconds: int
) -> tuple[bool, dict[str, Any]]:
    """Whether no recorded event has waited longer than ``bound_seconds``, and the figures."""
    oldest = inbox.oldest_pending_seconds(connection)
    passed = oldest is None or oldest <= bound_seconds
    return passed, {"oldest_pending_seconds": oldest, "bound_seconds": bound_seconds}


def recent_dead_letters(connection: psycopg.Connection[Any]) -> tuple[bool, dict[str, Any]]:
    """Whether no event was dead-lettered in the last ``DEAD_LETTER_WINDOW``, and the newest."""
    count, newest = inbox.dead_since(connection, datetime.now(UTC) - DEAD_LETTER_WINDOW, 5)
    metadata: dict[str, Any] = {"dead_letters": count, "window_hours": 24}
    if newest:
        metadata["newest"] = dg.MetadataValue.md(
            "\n".join(f"- `{resource_id}`: {reason}" for _, resource_id, reason in newest)
        )
    return count == 0, metadata


def benchling_state(connection: psycopg.Connection[Any]) -> tuple[bool, dict[str, Any]]:
    """Whether Benchling answered the last calls made to it, and since when it has not."""
    outage = benchling_outage.current(connection)
    if outage is None:
        return True, {}
    return False, {
        "unavailable_since": outage.since.isoformat(),
        "last_error": outage.last_error,
        "last_failed_call_at": outage.updated_at.isoformat(),
    }


@dg.asset_check(asset=synced_benchling_data)
def benchling_answers(postgres: PostgresResource) -> dg.AssetCheckResult:
    """Benchling answered the last calls made to it; while it does not, the sync is paused
    (one run at a time probes it) and no batch spends its attempts."""
    with postgres.transaction() as connection:
        passed, metadata = benchling_state(connection)
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata
    )


@dg.asset_check(asset=benchling_webhook_inbox.key)
def no_event_pending_too_long(
    postgres: PostgresResource, sync_settings: SyncSettings
) -> dg.AssetCheckResult:
    """No recorded event has waited longer than ``max_pending_seconds`` to be synced."""
    with postgres.transaction() as connection:
        passed, metadata = pending_age(connection, sync_settings.max_pending_seconds)
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata
    )


@dg.asset_check(asset=benchling_webhook_inbox.key)
def no_recent_dead_letters(postgres: PostgresResource) -> dg.AssetCheckResult:
    """No event was dead-lettered in the last 24 hours (``benchsync replay`` requeues them)."""
    with postgres.transaction() as connection:
        passed, metadata = recent_dead_letters(connection)
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata
    )


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def sync_health_sensor(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, sync_settings: SyncSettings
) -> dg.SensorResult | dg.SkipReason:
    """Evaluates the three checks whether or not sync runs happen, reporting each when its
    outcome changes (and every 15 minutes): a stalled sensor or a closed gate starts no run
    that would check."""
    with postgres.transaction() as connection:
        evaluated = {
            no_event_pending_too_long.check_key: pending_age(
                connection, sync_settings.max_pending_seconds
            ),
            no_recent_dead_letters.check_key: recent_dead_letters(connection),
            benchling_answers.check_key: benchling_state(connection),
        }
    outcomes = {key.name: outcome for key, outcome in evaluated.items()}
    asset_keys = {key.name: key.asset_key for key in evaluated}
    reported = json.loads(context.cursor) if context.cursor else {}
    now = datetime.now(UTC)
    last_report = reported.get("at")
    due = last_report is None or now - datetime.fromisoformat(last_report) >= HEALTH_REPORT_EVERY
    changed = {name for name, (passed, _) in outcomes.items() if reported.get(name) != passed}
    if not (due or changed):
        return dg.SkipReason("no check changed its outcome")
    evaluations = [
        dg.AssetCheckEvaluation(
            asset_key=asset_keys[name],
            check_name=name,
            passed=passed,
            metadata=metadata,
            severity=dg.AssetCheckSeverity.WARN,
        )
        for name, (passed, metadata) in outcomes.items()
        if due or name in changed
    ]
    cursor = {name: passed for name, (passed, _) in outcomes.items()}
    at = now.isoformat() if due else reported["at"]
    return dg.SensorResult(asset_events=evaluations, cursor=json.dumps({**cursor, "at": at}))

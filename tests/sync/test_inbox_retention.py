"""inbox_retention_job deletes finished inbox rows past the retention period, and nothing else."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg
import pytest

from benchsync_dagster.defs.resources import PostgresResource, SyncSettings
from benchsync_dagster.defs.retention import jobs

# (webhook id, state, days since it finished: None while pending)
ROWS = [
    ("synced-old", "synced", 31),
    ("synced-recent", "synced", 29),
    ("ignored-old", "ignored", 400),
    ("ignored-recent", "ignored", 1),
    ("dead-old", "dead", 400),
    ("pending-old", "pending", None),
]


def _fill(db: psycopg.Connection[Any]) -> None:
    for webhook_id, state, days in ROWS:
        db.execute(
            "INSERT INTO benchsync.inbox (webhook_id, message_type, body, state, received_at,"
            " finished_at) VALUES (%s, 'v2.entity.registered', '{}', %s,"
            " now() - interval '500 days', now() - make_interval(days => %s))",
            (webhook_id, state, days),
        )


def _run(database_url: str, **settings: Any) -> dg.ExecuteInProcessResult:
    result: dg.ExecuteInProcessResult = jobs.inbox_retention_job.execute_in_process(
        resources={
            "postgres": PostgresResource(database_url=database_url),
            "sync_settings": SyncSettings(**settings),
        },
        raise_on_error=False,
    )
    return result


def _kept(db: psycopg.Connection[Any]) -> set[str]:
    return {row[0] for row in db.execute("SELECT webhook_id FROM benchsync.inbox").fetchall()}


def test_finished_rows_past_thirty_days_go_and_pending_and_dead_ones_stay(
    db: psycopg.Connection[Any], migrated_database_url: str
) -> None:
    _fill(db)

    result = _run(migrated_database_url)

    assert result.success
    assert result.output_for_node("delete_finished_inbox_rows") == 2
    assert _kept(db) == {"synced-recent", "ignored-recent", "dead-old", "pending-old"}


def test_deletes_in_batches_until_none_is_left(
    db: psycopg.Connection[Any], migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(db)
    monkeypatch.setattr(jobs, "DELETE_BATCH_ROWS", 1)

    result = _run(migrated_database_url, inbox_retention_days=2)

    assert result.output_for_node("delete_finished_inbox_rows") == 3
    assert _kept(db) == {"ignored-recent", "dead-old", "pending-old"}


def test_a_retention_that_is_not_positive_fails_naming_the_variable(
    db: psycopg.Connection[Any], migrated_database_url: str
) -> None:
    _fill(db)

    result = _run(migrated_database_url, inbox_retention_days=0)

    assert not result.success
    assert "BENCHSYNC_INBOX_RETENTION_DAYS must be a positive integer" in str(result.all_events)
    assert len(_kept(db)) == len(ROWS)

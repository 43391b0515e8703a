"""``benchsync replay``: requeued events are read by the sensor again, past its cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import psycopg
import pytest

from benchsync.cli import main
from benchsync_dagster.batch_runs import batch_webhook_ids
from tests.support.dagster import evaluate_inbox_sensor
from tests.support.tenant import Tenant, inbox_states, register
from webhook_sensor_bridge import inbox


@pytest.fixture
def read_and_dead_lettered(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> tuple[dg.DagsterInstance, str, list[str]]:
    """Three events the sensor has already read, then dead-lettered."""
    register(tenant, 3)
    instance = dg.DagsterInstance.ephemeral()
    first = evaluate_inbox_sensor(instance, tenant)
    assert isinstance(first, dg.SensorResult) and first.cursor
    (request,) = first.run_requests or []
    webhook_ids = batch_webhook_ids(request.run_config)
    inbox.mark_dead(db, webhook_ids, "Benchling answered 404")
    return instance, first.cursor, webhook_ids


def test_replay_requeues_dead_letters_behind_the_cursor(
    tenant: Tenant,
    read_and_dead_lettered: tuple[dg.DagsterInstance, str, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    instance, cursor, webhook_ids = read_and_dead_lettered

    assert main(["replay"]) == 0

    assert "requeued 3 dead-lettered events" in capsys.readouterr().out
    assert inbox_states(tenant.database_url) == {"pending": 3}
    again = evaluate_inbox_sensor(instance, tenant, cursor=cursor)
    assert isinstance(again, dg.SensorResult)
    (request,) = again.run_requests or []
    assert sorted(batch_webhook_ids(request.run_config)) == sorted(webhook_ids)


def test_replay_of_a_window_takes_only_events_received_in_it(
    tenant: Tenant, read_and_dead_lettered: tuple[dg.DagsterInstance, str, list[str]]
) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    assert main(["replay", "--since", later]) == 0

    assert inbox_states(tenant.database_url) == {"dead": 3}


def test_replay_without_a_database_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BENCHSYNC_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")

    assert main(["replay"]) == 2

    assert "BENCHSYNC_DATABASE_URL" in capsys.readouterr().err


def test_until_without_a_window_is_refused_with_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["replay", "--batch", "inbox-1.1-1.9", "--until", "2026-12-01"]) == 2
    assert "--until narrows a --since window" in capsys.readouterr().err


def test_a_batch_name_that_is_not_one_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--batch", "inbox-1-3"]) == 2
    assert "is not a batch's run key" in capsys.readouterr().err

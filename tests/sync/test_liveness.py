"""Which runs are orphaned (``liveness.judge``, a plain function), and the heartbeat a run's
process keeps (``liveness.beating``) against the real database. Through the real daemon:
tests/faults/test_dagster_killed.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import psycopg
import pytest

from benchsync_core.settings import ConfigurationError
from benchsync_dagster.defs.resources import SyncSettings
from benchsync_dagster.liveness import (
    STARTING_GRACE,
    RunInFlight,
    Silence,
    Verdict,
    beating,
    judge,
)
from benchsync_dagster.storage import run_heartbeats
from benchsync_dagster.storage.run_heartbeats import LastBeat

NOW = 1_800_000_000.0
STALE = 45.0
CONFIRM = 15.0
LAST_BEAT_AT = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


def started(run_id: str, seconds_ago: float = 600) -> RunInFlight:
    return RunInFlight(run_id, "STARTED", NOW - seconds_ago)


def beat(run_id: str, age_seconds: float) -> LastBeat:
    return LastBeat(run_id, LAST_BEAT_AT, age_seconds)


def look(
    runs: list[RunInFlight],
    beats: list[LastBeat],
    watched: dict[str, Silence] | None = None,
    at: float = NOW,
) -> Verdict:
    return judge(
        runs,
        {b.run_id: b for b in beats},
        watched or {},
        at,
        stale_after=STALE,
        confirm_after=CONFIRM,
    )


def test_a_run_beating_within_the_threshold_is_left_alone() -> None:
    verdict = look([started("alive")], [beat("alive", 4)])
    assert verdict == Verdict([], {})


def test_a_silent_run_is_failed_only_when_found_silent_again_after_the_confirmation() -> None:
    first = look([started("gone")], [beat("gone", 50)])
    assert first.orphans == []
    assert first.silences == {"gone": Silence(LAST_BEAT_AT.isoformat(), NOW)}

    too_soon = look([started("gone")], [beat("gone", 60)], first.silences, at=NOW + CONFIRM - 1)
    assert too_soon.orphans == []
    assert too_soon.silences == first.silences  # found when it was first found

    later = look([started("gone")], [beat("gone", 65)], first.silences, at=NOW + CONFIRM)
    (orphan,) = later.orphans
    assert orphan.run_id == "gone"
    assert "no heartbeat from its process for 65 s" in orphan.reason
    assert later.silences == {}


def test_a_run_that_beat_between_the_two_looks_is_watched_afresh_not_failed() -> None:
    # The database was away: its beats could not be written, then were again.
    first = look([started("paused")], [beat("paused", 120)])
    resumed = LastBeat("paused", datetime(2027, 1, 15, 8, 2, tzinfo=UTC), 50)
    later = look([started("paused")], [resumed], first.silences, at=NOW + CONFIRM)
    assert later.orphans == []
    assert later.silences == {"paused": Silence(resumed.beat_at.isoformat(), NOW + CONFIRM)}
    fresh = look([started("paused")], [beat("paused", 1)], later.silences, at=NOW + 2 * CONFIRM)
    assert fresh == Verdict([], {})


def test_a_run_that_never_beat_is_judged_from_its_start_or_its_launch() -> None:
    runs = [
        started("just-started", seconds_ago=10),
        started("never-beat", seconds_ago=STALE),
        RunInFlight("starting", "STARTING", NOW - STALE - 1),  # importing, on a loaded machine
        RunInFlight("lost-launching", "STARTING", NOW - STARTING_GRACE * STALE),
    ]
    first = look(runs, [])
    assert first.orphans == []
    assert set(first.silences) == {"never-beat", "lost-launching"}
    assert first.silences["never-beat"].last_beat is None

    later = look(runs, [], first.silences, at=NOW + CONFIRM)
    reasons = {orphan.run_id: orphan.reason for orphan in later.orphans}
    assert set(reasons) == {"never-beat", "lost-launching"}
    assert "no heartbeat from its process in 60 s since it started" in reasons["never-beat"]
    assert "never started in 105 s since launch" in reasons["lost-launching"]
    # The two younger ones, still within their thresholds at the second look, are not watched.
    assert later.silences == {}


def test_a_run_that_ended_is_no_longer_watched() -> None:
    first = look([started("gone")], [beat("gone", 50)])
    assert look([], [], first.silences, at=NOW + CONFIRM) == Verdict([], {})


def test_the_stale_threshold_must_span_three_heartbeat_intervals() -> None:
    settings = SyncSettings(heartbeat_interval_seconds=10, heartbeat_stale_seconds=29)
    with pytest.raises(ConfigurationError, match="BENCHSYNC_HEARTBEAT_STALE_SECONDS") as raised:
        settings.setup_for_execution(dg.build_init_resource_context())
    assert "BENCHSYNC_HEARTBEAT_INTERVAL_SECONDS" in str(raised.value)
    SyncSettings(heartbeat_interval_seconds=10, heartbeat_stale_seconds=30).setup_for_execution(
        dg.build_init_resource_context()
    )


INTERVAL = 0.05


def wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the test's timeout"
        time.sleep(INTERVAL)


def beats_of(db: psycopg.Connection[Any], run_id: str) -> LastBeat | None:
    return run_heartbeats.last_beats(db, [run_id]).get(run_id)


def test_a_run_keeps_beating_while_its_own_thread_is_blocked(
    db: psycopg.Connection[Any], migrated_database_url: str
) -> None:
    @contextmanager
    def connect() -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(migrated_database_url) as connection:
            yield connection

    with beating(connect, "run-1", "sync_job", INTERVAL):
        wait_for(lambda: beats_of(db, "run-1") is not None)
        first = beats_of(db, "run-1")
        assert first is not None
        # This thread waits (as a step waits on a lock, a pool slot or the rate limit): the
        # heartbeat goes on.
        wait_for(lambda: beats_of(db, "run-1").beat_at > first.beat_at)  # type: ignore[union-attr]
    stopped = beats_of(db, "run-1")
    assert stopped is not None
    assert db.execute("SELECT job_name FROM benchsync.run_heartbeats").fetchall() == [("sync_job",)]
    # Ended, it beats no more; the row stays with its last beat (the sensor reads only runs in
    # flight): a run ends just after its resources are torn down, never without a row.
    threading.Event().wait(timeout=INTERVAL * 4)
    after = beats_of(db, "run-1")
    assert after is not None and after.beat_at == stopped.beat_at


def test_beats_the_database_refused_are_written_once_it_answers(
    db: psycopg.Connection[Any], migrated_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    refusals = 3

    @contextmanager
    def connect() -> Iterator[psycopg.Connection[Any]]:
        nonlocal refusals
        if refusals:
            refusals -= 1
            raise psycopg.OperationalError("connection refused")
        with psycopg.connect(migrated_database_url) as connection:
            yield connection

    with beating(connect, "run-2", "poll_job", INTERVAL):
        wait_for(lambda: beats_of(db, "run-2") is not None)
    warnings = [r.message for r in caplog.records if "heartbeat not written" in r.message]
    assert warnings == ["run run-2: heartbeat not written (connection refused); trying again"]


def test_rows_silent_past_the_retention_are_forgotten(db: psycopg.Connection[Any]) -> None:
    run_heartbeats.beat(db, "recent", "sync_job")
    db.execute(
        "INSERT INTO benchsync.run_heartbeats VALUES ('old', 'sync_job', now() - interval '2 days')"
    )
    assert run_heartbeats.forget_older_than(db, 86_400) == 1
    assert set(run_heartbeats.last_beats(db, ["recent", "old"])) == {"recent"}

"""Whether a run's process still lives, where the run launcher cannot say.

``dagster dev``'s run launcher cannot check a run worker's health: a run whose process died
with ``dagster dev`` stays STARTED (or STARTING) until its time limit, its events pending and
its pool slot held. So each run of a job that calls Benchling keeps a heartbeat — a thread of
its process touching the run's row every few seconds, from the moment its resources are set up
until they are torn down, across waits for a pool slot, the rate limit or an outage — and
``judge`` decides, from the heartbeats and Dagster's runs, which runs are orphaned.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from benchsync_dagster.storage import run_heartbeats
from benchsync_dagster.storage.run_heartbeats import LastBeat

_log = logging.getLogger(__name__)

Connect = Callable[[], AbstractContextManager[psycopg.Connection[Any]]]


@contextmanager
def beating(
    connect: Connect, run_id: str, job_name: str, interval_seconds: float
) -> Iterator[None]:
    """A heartbeat for ``run_id`` every ``interval_seconds`` while the block runs: one
    transaction per beat, on a connection ``connect`` lends, from a thread of its own, so a
    step waiting on anything (a lock, the rate limit, Benchling) keeps beating. A beat that
    fails (the database away) is logged once and tried again at the next interval."""
    stop = threading.Event()

    def beat_until_stopped() -> None:
        failing = False
        while True:
            try:
                with connect() as connection:
                    run_heartbeats.beat(connection, run_id, job_name)
                if failing:
                    _log.info(f"run {run_id}: heartbeat written again")
                failing = False
            except psycopg.Error as error:
                if not failing:
                    _log.warning(f"run {run_id}: heartbeat not written ({error}); trying again")
                failing = True
            if stop.wait(interval_seconds):
                return

    thread = threading.Thread(target=beat_until_stopped, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval_seconds)


# A run still STARTING gets this many times the threshold: its process is importing the code
# location, which took a healthy run over 25 s on a loaded 2-core machine (docs/benchmarks.md).
STARTING_GRACE = 2


@dataclass(frozen=True)
class RunInFlight:
    """A run of a job that beats, as Dagster has it."""

    run_id: str
    status: str  # STARTING or STARTED
    since: float  # Unix time: launched (STARTING) or started (STARTED)


@dataclass(frozen=True)
class Silence:
    """A run found silent: its last heartbeat then (None: none ever), and when it was found."""

    last_beat: str | None
    found_at: float


@dataclass(frozen=True)
class Orphan:
    run_id: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    orphans: list[Orphan]
    silences: dict[str, Silence]  # the silent runs still watched


def judge(
    runs: Sequence[RunInFlight],
    beats: Mapping[str, LastBeat],
    watched: Mapping[str, Silence],
    now: float,
    stale_after: float,
    confirm_after: float,
) -> Verdict:
    """Which runs are orphaned: silent for ``stale_after`` seconds — since their last heartbeat,
    or since they started when none ever beat, or twice that since they were launched while
    still STARTING (``STARTING_GRACE``) — and found so twice,
    ``confirm_after`` seconds apart, with no heartbeat between. The second look spares live runs
    whose beats could not be written for a while (the database away): they beat again within
    an interval of its return, before the second look.

    ``watched`` is what the previous call returned in ``silences``; ``now`` is a Unix time.
    """
    orphans: list[Orphan] = []
    silences: dict[str, Silence] = {}
    for run in runs:
        last = beats.get(run.run_id)
        silent_for = last.age_seconds if last is not None else now - run.since
        if silent_for < stale_after * (STARTING_GRACE if run.status == "STARTING" else 1):
            continue
        last_beat = last.beat_at.isoformat() if last is not None else None
        earlier = watched.get(run.run_id)
        if earlier is None or earlier.last_beat != last_beat:
            silences[run.run_id] = Silence(last_beat, now)
        elif now - earlier.found_at >= confirm_after:
            orphans.append(Orphan(run.run_id, _why(run, last, silent_for)))
        else:
            silences[run.run_id] = earlier
    return Verdict(orphans, silences)


def _why(run: RunInFlight, last: LastBeat | None, silent_for: float) -> str:
    if last is not None:
        return (
            f"no heartbeat from its process for {silent_for:.0f} s (the last at"
            f" {last.beat_at:%Y-%m-%d %H:%M:%S %Z}): the process is gone, e.g. killed with"
            " dagster dev, and the run launcher cannot tell"
        )
    if run.status == "STARTING":
        return (
            f"its process never started in {silent_for:.0f} s since launch (no heartbeat): it was"
            " lost, e.g. with dagster dev killed while launching it"
        )
    return (
        f"no heartbeat from its process in {silent_for:.0f} s since it started: the process is"
        " gone, e.g. killed with dagster dev, and the run launcher cannot tell"
    )

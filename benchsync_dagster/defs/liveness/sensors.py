"""The sensor that fails runs whose process is gone: what the default run launcher cannot see.

Killing ``dagster dev`` kills its runs' processes without a word to the run storage: the runs
stay STARTED (or STARTING), their events pending and their ``benchling_api`` pool slots
claimed, until their time limit (``BENCHSYNC_RUN_TIMEOUT_SECONDS``, 600 s) or the start
timeout (180 s). Each run of the jobs below keeps a heartbeat (``RunHeartbeat``); this sensor
reports one whose heartbeat stopped FAILURE, through the instance, as run monitoring does: then
``retry_failed_batches`` requests its batch again (the daemon's run retries, the other jobs'
runs). Its pool slots are freed at once, as the UI's "Free concurrency slots" does: run
monitoring would free them ``free_slots_after_run_end_seconds`` later, and until then the queue
holds the runs that need them (measured: the retry of an orphan's batch waited 40 s).
"""

from __future__ import annotations

import json
import time

import dagster as dg

from benchsync_dagster.defs.daemon import EVERY_DAEMON_LOOP_SECONDS
from benchsync_dagster.defs.poll.sensors import poll_job
from benchsync_dagster.defs.reconciliation.schedules import reconciliation_job
from benchsync_dagster.defs.resources import PostgresResource, SyncSettings
from benchsync_dagster.defs.sync.jobs import app_configuration_job, sync_job
from benchsync_dagster.liveness import RunInFlight, Silence, judge
from benchsync_dagster.storage import run_heartbeats

# Their every asset asks for RunHeartbeat, and they run in one process (in_process_executor),
# so the heartbeat covers the whole run, waits for a pool slot included.
BEATING_JOBS = (sync_job, poll_job, reconciliation_job, app_configuration_job)
JUDGED_STATUSES = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
# The rows of runs silent this long are deleted: long ended, or failed by this sensor.
FORGET_AFTER_SECONDS = 86_400


def _runs_in_flight(instance: dg.DagsterInstance) -> list[RunInFlight]:
    """The STARTING and STARTED runs of the beating jobs, since when they are so."""
    names = {job.name for job in BEATING_JOBS}
    runs = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=JUDGED_STATUSES)):
        run = record.dagster_run
        if run.job_name not in names:
            continue
        since = record.start_time
        if run.status == dg.DagsterRunStatus.STARTING or since is None:
            since = instance.get_run_stats(run.run_id).launch_time
        runs.append(
            RunInFlight(run.run_id, run.status.value, since or record.create_timestamp.timestamp())
        )
    return runs


def _cursor(silences: dict[str, Silence]) -> str:
    return json.dumps({run_id: [s.last_beat, s.found_at] for run_id, s in silences.items()})


def _watched(cursor: str | None) -> dict[str, Silence]:
    return {run_id: Silence(beat, at) for run_id, (beat, at) in json.loads(cursor or "{}").items()}


@dg.sensor(
    minimum_interval_seconds=EVERY_DAEMON_LOOP_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def fail_orphaned_runs(
    context: dg.SensorEvaluationContext, postgres: PostgresResource, sync_settings: SyncSettings
) -> dg.SkipReason:
    """Fails a run of a job that calls Benchling whose process is gone: silent (no heartbeat)
    for ``BENCHSYNC_HEARTBEAT_STALE_SECONDS``, and still silent a few heartbeat intervals
    later. Its batch is then retried like any failed run's."""
    runs = _runs_in_flight(context.instance)
    with postgres.transaction() as connection:
        beats = run_heartbeats.last_beats(connection, [run.run_id for run in runs])
        run_heartbeats.forget_older_than(connection, FORGET_AFTER_SECONDS)
    verdict = judge(
        runs,
        beats,
        _watched(context.cursor),
        now=time.time(),
        stale_after=sync_settings.heartbeat_stale_seconds,
        confirm_after=3 * sync_settings.heartbeat_interval_seconds,
    )
    failed = []
    for orphan in verdict.orphans:
        run = context.instance.get_run_by_id(orphan.run_id)
        if run is None or run.status not in JUDGED_STATUSES:
            continue  # it ended meanwhile
        context.instance.report_run_failed(run, f"Orphaned run: {orphan.reason}.")
        # Its process is gone: its pool slots go now, not free_slots_after_run_end_seconds (30 s)
        # plus a monitoring interval later, while its batch's retry and the queue wait on them.
        storage = context.instance.event_log_storage
        if storage.supports_global_concurrency_limits:
            storage.free_concurrency_slots_for_run(run.run_id)
        context.log.warning(f"run {run.run_id} of {run.job_name} failed: {orphan.reason}")
        failed.append(run.run_id)
    context.update_cursor(_cursor(verdict.silences))
    return dg.SkipReason(
        f"{len(runs)} runs in flight, {len(verdict.silences)} silent and watched,"
        f" {len(failed)} failed as orphaned: {', '.join(failed) or 'none'}"
    )

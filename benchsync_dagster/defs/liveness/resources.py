"""The heartbeat a run of a job that calls Benchling keeps while its process lives."""

from __future__ import annotations

from contextlib import ExitStack

import dagster as dg
from pydantic import PrivateAttr

from benchsync_dagster.defs.resources import PostgresResource, SyncSettings
from benchsync_dagster.liveness import beating


class RunHeartbeat(dg.ConfigurableResource["RunHeartbeat"]):
    """Touches the run's row of ``benchsync.run_heartbeats`` every
    ``BENCHSYNC_HEARTBEAT_INTERVAL_SECONDS`` from a thread, from when the run's resources are
    set up until they are torn down: across every step and every wait (a pool slot, the rate
    limit, an outage). ``fail_orphaned_runs`` fails a run whose heartbeat stopped. A step asks
    for it by naming it; it does nothing else, and nothing in a sensor's tick."""

    postgres: PostgresResource
    sync_settings: SyncSettings

    _beat: ExitStack = PrivateAttr(default_factory=ExitStack)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.run
        if run is None:  # a sensor's or a schedule's tick
            return
        self._beat.enter_context(
            beating(
                self.postgres.transaction,
                run.run_id,
                run.job_name,
                self.sync_settings.heartbeat_interval_seconds,
            )
        )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._beat.close()

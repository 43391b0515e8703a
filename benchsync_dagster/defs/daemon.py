"""What every sensor shares about Dagster's daemon: the run statuses that count as in flight,
and how often a sensor can tick."""

import dagster as dg

IN_FLIGHT_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

# The daemon evaluates sensors once per 5 s loop, skipping one whose last tick started less than
# minimum_interval_seconds ago; a tick starts a hair after its loop does, so an interval of 5 s
# ticked every other loop (10 s, measured). 1 s means every loop.
EVERY_DAEMON_LOOP_SECONDS = 1

# A run status sensor handles one run per tick when its function returns something, and up to
# five when it returns None; a tick every daemon loop keeps a burst of endings from queueing.
RUN_STATUS_SENSOR_INTERVAL_SECONDS = EVERY_DAEMON_LOOP_SECONDS

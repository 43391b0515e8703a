"""When a step that calls Benchling is tried again, and after how long: a few times for an
ordinary error, for longer while Benchling is unavailable (an outage pauses the sync rather
than spending a batch's attempts). Plain decisions: ``defs/step_retries.py`` asks Dagster for
them."""

from __future__ import annotations

import random
from dataclasses import dataclass

from benchsync_dagster.benchling.client import is_outage

# Benchling or the network failing mid-step: try the step again before failing the run, after
# 2 s, 6 s, 14 s (exponential, each give or take one base delay).
ORDINARY_RETRIES = 3
RETRY_DELAY_SECONDS = 2.0
# Benchling unavailable (no connection, 502/503/504): the step waits it out, trying again every
# 30 s at most, about 7 minutes in all (with the SDK's own tries, inside the run's timeout,
# SYNC_RUN_TIMEOUT_SECONDS). Retries share Dagster's one count per step: once past the ordinary
# three, an ordinary error fails the step.
OUTAGE_RETRIES = 16
OUTAGE_RETRY_CAP_SECONDS = 30.0


@dataclass(frozen=True)
class Retry:
    """A retry to ask for: the step's retry count it may reach, and the wait before it."""

    max_retries: int
    seconds_to_wait: float
    outage: bool  # Benchling is unavailable (rather than one call or step failing)


def backoff_seconds(retry: int, jitter: float) -> float:
    """The wait before the ``retry``-th retry (1 first): exponential from
    ``RETRY_DELAY_SECONDS``, moved by ``jitter`` (-1 to 1) base delays, as Dagster's
    ``Backoff.EXPONENTIAL`` with ``Jitter.PLUS_MINUS``."""
    return (2.0**retry - 1) * RETRY_DELAY_SECONDS + jitter * RETRY_DELAY_SECONDS


def retry_after(error: BaseException, retry: int, jitter: float | None = None) -> Retry:
    """The ``retry``-th retry (1 first) of a step that failed with ``error``; ``jitter`` is
    drawn when not given."""
    delay = backoff_seconds(retry, random.uniform(-1, 1) if jitter is None else jitter)  # noqa: S311
    if is_outage(error):
        return Retry(OUTAGE_RETRIES, min(delay, OUTAGE_RETRY_CAP_SECONDS), outage=True)
    return Retry(ORDINARY_RETRIES, delay, outage=False)

"""What becomes of a batch whose sync run did not finish, and how many runs may sync while
Benchling is down. Plain functions: the sensors gather the facts, call these, and act.

- A run that failed while Benchling was unavailable is requested again without spending an
  attempt, up to ``MAX_OUTAGE_RETRIES`` times (each run waits out minutes of the outage).
- Any other failure spends an attempt; after the last one a batch of one event is
  dead-lettered with its error, and a larger one is halved, each half with no attempts left, so
  that halving again leaves only the events that fail on their own dead and the rest synced.
- A run an operator cancelled is dead-lettered, saying how to requeue it; one that run
  monitoring cancelled for its maximum runtime is left to the failure's retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

# A batch whose runs fail while Benchling is down is requested again this many times without
# spending an attempt (each run waits out about 7 minutes of it, step_retries.py, and the SDK's
# own tries, until its time limit): about an hour of outage.
MAX_OUTAGE_RETRIES = 6
# What run monitoring says when it cancels a run past its dagster/max_runtime.
MAX_RUNTIME_CANCEL = "maximum runtime"


@dataclass(frozen=True)
class BatchAttempt:
    """A sync run to request: its run key, the batch its tags and its config name, its events,
    its attempt, and how many outage retries it was already given."""

    run_key: str
    batch: str
    config_batch: str | None
    webhook_ids: list[str]
    attempt: int
    outage_retries: int = 0


@dataclass(frozen=True)
class FailedBatch:
    """What a failed sync run tells of its batch."""

    run_id: str
    batch: str  # its batch tag (the run id for a run launched by hand)
    config_batch: str | None  # the batch its config names (None for a run launched by hand)
    webhook_ids: list[str]
    attempt: int
    outage_retries: int
    failed_in_outage: bool  # Benchling was found unavailable while it ran


@dataclass(frozen=True)
class WaitOutOutage:
    """Benchling is down, not this batch: the same attempt again."""

    retry: BatchAttempt


@dataclass(frozen=True)
class TryAgain:
    """The next attempt, the failure noted on the events."""

    retry: BatchAttempt


@dataclass(frozen=True)
class Halve:
    """The last attempt failed: the two halves at once, with no attempts left."""

    halves: tuple[BatchAttempt, BatchAttempt]


@dataclass(frozen=True)
class DeadLetter:
    """The events dead, for ``reason``."""

    reason: str


AfterFailure = WaitOutOutage | TryAgain | Halve | DeadLetter


def failed_in_outage(outage_seen_at: datetime | None, run_started: float | None) -> bool:
    """Whether Benchling was last found unavailable (``outage_seen_at``) while a run ran, not
    before it started (``run_started``, a Unix time; None when it never started)."""
    if outage_seen_at is None:
        return False
    return run_started is None or outage_seen_at.timestamp() >= run_started


def _again(
    failed: FailedBatch, run_key: str, attempt: int, outage_retries: int = 0
) -> BatchAttempt:
    """The whole batch of ``failed`` once more, under ``run_key``."""
    return BatchAttempt(
        run_key, failed.batch, failed.config_batch, failed.webhook_ids, attempt, outage_retries
    )


def after_failure(failed: FailedBatch, error: str, max_attempts: int) -> AfterFailure:
    """What to do with the batch of ``failed``, whose run failed with ``error``."""
    batch, attempt = failed.batch, failed.attempt
    if failed.failed_in_outage and failed.outage_retries < MAX_OUTAGE_RETRIES:
        run_key = f"{batch}-attempt{attempt}-after-{failed.run_id[:8]}"
        return WaitOutOutage(_again(failed, run_key, attempt, failed.outage_retries + 1))
    if attempt < max_attempts:
        return TryAgain(_again(failed, f"{batch}-attempt{attempt + 1}", attempt + 1))
    if len(failed.webhook_ids) == 1:
        return DeadLetter(f"sync failed {attempt} times; last error: {error}")
    middle = len(failed.webhook_ids) // 2

    def half(number: int, webhook_ids: list[str]) -> BatchAttempt:
        name = f"{batch}/{number}"
        return BatchAttempt(name, name, name, webhook_ids, attempt=max_attempts)

    return Halve((half(1, failed.webhook_ids[:middle]), half(2, failed.webhook_ids[middle:])))


def after_cancel(run_id: str, batch: str, cancel_messages: Sequence[str]) -> DeadLetter | None:
    """What becomes of the batch of a cancelled sync run, from what its cancellation said: dead,
    rather than started again behind the operator's back; or nothing when run monitoring
    cancelled it for running too long (it also reports it failed, and the retry takes it)."""
    if any(MAX_RUNTIME_CANCEL in message for message in cancel_messages):
        return None
    return DeadLetter(
        f"the sync run {run_id} was cancelled; `benchsync replay --batch {batch}` requeues"
        " its events"
    )


def runs_allowed(max_runs_in_flight: int, benchling_down: bool) -> int:
    """How many sync runs may be in flight: while Benchling is down, one at a time probes it
    (its steps wait the outage out)."""
    return 1 if benchling_down else max_runs_in_flight

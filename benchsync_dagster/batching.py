"""How the sensor cuts newly recorded events into batches, one run each. Pure functions.

A run costs seconds of overhead (process start, run queue), and a ``bulk_get`` call fetches up to
100 entities, so a batch holds whole hundreds of events where it can, up to ``max_batch_size``.
While a burst is still arriving the sensor holds back the last partial hundred for the next tick;
a trickle, or the tail of a burst, goes out at once so a lone event is not kept waiting. (The
sensor also requests nothing while enough runs are in flight, so a backlog grows into full
batches instead of many small runs.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from benchsync_dagster.benchling.listing import BULK_GET_LIMIT
from webhook_sensor_bridge.inbox import ReadPosition


@dataclass(frozen=True)
class PendingEvent:
    """The part of an inbox row that batching needs."""

    seq: int
    txid: int
    webhook_id: str
    received_at: datetime

    @property
    def position(self) -> ReadPosition:
        return ReadPosition(self.txid, self.seq)


@dataclass(frozen=True)
class BatchPlan:
    batches: list[list[PendingEvent]]
    # the events handed out; the sensor's cursor moves to the last of these
    taken: list[PendingEvent]


def plan_batches(
    events: Sequence[PendingEvent],
    *,
    now: datetime,
    max_batch_size: int,
    max_batches: int,
    quiet_after: timedelta,
) -> BatchPlan:
    """Cut ``events`` (in inbox read order) into at most ``max_batches`` batches.

    A burst is arriving when at least a hundred events wait and the newest is younger than
    ``quiet_after``; then only whole hundreds are taken.
    """
    takeable = min(len(events), max_batch_size * max_batches)
    burst_arriving = bool(events) and now - events[-1].received_at < quiet_after
    if burst_arriving and takeable >= BULK_GET_LIMIT:
        takeable -= takeable % BULK_GET_LIMIT
    taken = list(events[:takeable])
    batches = [
        taken[start : start + max_batch_size] for start in range(0, takeable, max_batch_size)
    ]
    return BatchPlan(batches=batches, taken=taken)

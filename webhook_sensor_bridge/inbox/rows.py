"""The inbox's row types: what the bridge records, and what a reader of the inbox gets back."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Envelope:
    """A webhook's identity and what its envelope says: the inbox keeps a column for each."""

    webhook_id: str
    message_type: str
    channel: str | None
    message_id: str | None
    resource_id: str | None
    schema_id: str | None
    app_id: str | None
    app_definition_id: str | None
    tenant_id: str | None
    base_url: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class InboxEvent(Envelope):
    """A webhook, ready to record, with its body as received; ``ignored_reason`` is None when
    the sync wants it. ``origin_verified``: its signature verified and its envelope names this
    deployment's App definition (and tenant and installation, where the bridge knows them)."""

    body: str
    ignored_reason: str | None
    origin_verified: bool = False


@dataclass(frozen=True)
class ReadPosition:
    """Where a reader of the inbox stands: after the row with this (txid, seq)."""

    txid: int = 0
    seq: int = 0


# A batch's run key: its first and last read positions, "/1" or "/2" per halving of a batch
# that kept failing, then "-attemptN" on a retry ("-attemptN-after-<run>" when a run failed
# during a Benchling outage, which spends no attempt).
_BATCH_NAME = re.compile(
    r"inbox-(\d+)\.(\d+)-(\d+)\.(\d+)(?:/[12])*(?:-attempt\d+(?:-after-[0-9a-f]+)?)?"
)


@dataclass(frozen=True)
class BatchSpan:
    """The stretch of the read order one batch of events was taken from, first to last row.

    Its name is the batch's run key. A requeued event moves to the end of the read order, so a
    batch of requeued events has a name no earlier batch had: Dagster's daemon, which never
    launches a run key twice, runs it.
    """

    first: ReadPosition
    last: ReadPosition

    @property
    def name(self) -> str:
        return f"inbox-{self.first.txid}.{self.first.seq}-{self.last.txid}.{self.last.seq}"

    @classmethod
    def parse(cls, name: str) -> BatchSpan:
        """The span a batch name (a retry's or a half's run key too) stands for, or ValueError.
        A half stands for its whole batch's span: which events it held, only its run says."""
        matched = _BATCH_NAME.fullmatch(name.strip())
        if matched is None:
            raise ValueError(f"{name!r} is not a batch's run key (inbox-<txid>.<seq>-<txid>.<seq>)")
        first_txid, first_seq, last_txid, last_seq = map(int, matched.groups())
        return cls(ReadPosition(first_txid, first_seq), ReadPosition(last_txid, last_seq))


@dataclass(frozen=True)
class Replay:
    """Which recorded events ``requeue`` makes pending again: those meeting every criterion
    given. Ignored events are never requeued."""

    state: str | None = None  # only events in this state
    received_from: datetime | None = None
    received_until: datetime | None = None
    webhook_ids: Sequence[str] | None = None
    batch: BatchSpan | None = None
    # What the caller said, for its report.
    description: str = field(default="", compare=False)


@dataclass(frozen=True)
class InboxRow(Envelope):
    """A recorded webhook, as the sensor and sync runs read it (without its body, which only
    the columns' values came from: a tick reads thousands of rows)."""

    txid: int
    seq: int
    state: str
    received_at: datetime
    attempts: int

    @property
    def position(self) -> ReadPosition:
        return ReadPosition(self.txid, self.seq)


@dataclass(frozen=True)
class InboxBatch:
    rows: list[InboxRow]
    # Committed rows past the position that a transaction still in flight (anywhere on the
    # server) holds back; they become readable when it ends. Report it rather than wait silently.
    held_back: int

    def position_after(self, start: ReadPosition) -> ReadPosition:
        return self.rows[-1].position if self.rows else start


@dataclass(frozen=True)
class InboxCounts:
    total: int
    pending: int
    synced: int
    ignored: int
    dead: int
    # None when nothing is pending.
    oldest_pending_seconds: float | None

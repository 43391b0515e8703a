"""The inbox's row types: what the bridge records, and what a reader of the inbox gets back."""

from __future__ import annotations

from dataclasses import dataclass
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
    body: str


@dataclass(frozen=True)
class InboxEvent(Envelope):
    """A verified webhook, ready to record; ``ignored_reason`` is None when the sync wants it."""

    ignored_reason: str | None


@dataclass(frozen=True)
class ReadPosition:
    """Where a reader of the inbox stands: after the row with this (txid, seq)."""

    txid: int = 0
    seq: int = 0


@dataclass(frozen=True)
class InboxRow(Envelope):
    """A recorded webhook, as the sensor reads it."""

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

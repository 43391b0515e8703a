"""How a batch of inbox events is written into a sync run, and read back: the run config its
two steps take, the tags that count its attempts, and the inbox sensor's cursor. Plain code.

Dagster keeps these (in run storage, in the sensor's cursor) across upgrades, so what is read
here tolerates runs written by an older version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook_sensor_bridge.inbox import BatchSpan, ReadPosition

BATCH_TAG = "benchsync/batch"
ATTEMPT_TAG = "benchsync/attempt"
OUTAGE_RETRIES_TAG = "benchsync/outage_retries"
# The two steps of sync_job, each configured with the batch.
SYNC_STEPS = ("benchling_entity_snapshots", "synced_benchling_data")


def batch_run_config(webhook_ids: list[str], batch: str | None) -> dict[str, Any]:
    """The run config of a sync run over ``webhook_ids``, naming its ``batch`` (None for a run
    launched by hand)."""
    config = {"webhook_ids": webhook_ids, "batch": batch}
    return {"ops": {step: {"config": config} for step in SYNC_STEPS}}


def _batch_config(run_config: Mapping[str, Any]) -> Mapping[str, Any]:
    config: Mapping[str, Any] = run_config["ops"][SYNC_STEPS[0]]["config"]
    return config


def batch_webhook_ids(run_config: Mapping[str, Any]) -> list[str]:
    return list(_batch_config(run_config)["webhook_ids"])


def batch_name(run_config: Mapping[str, Any]) -> str | None:
    """The batch (its run key) a sync run's config names; None for a run launched by hand."""
    batch = _batch_config(run_config).get("batch")
    return str(batch) if batch else None


def batch_span(run_config: Mapping[str, Any]) -> BatchSpan | None:
    batch = batch_name(run_config)
    return BatchSpan.parse(batch) if batch else None


def batch_tags(batch: str, attempt: int, outage_retries: int = 0) -> dict[str, str]:
    """The tags naming a sync run's batch and attempt (and the outage retries it was given
    without spending an attempt, when any)."""
    tags = {BATCH_TAG: batch, ATTEMPT_TAG: str(attempt)}
    if outage_retries:
        tags[OUTAGE_RETRIES_TAG] = str(outage_retries)
    return tags


def position_from_cursor(cursor: str | None) -> ReadPosition:
    """The inbox sensor's read position its cursor holds (the inbox's start when none)."""
    if not cursor:
        return ReadPosition()
    txid, seq = cursor.split(":")
    return ReadPosition(int(txid), int(seq))


def cursor_at(position: ReadPosition) -> str:
    return f"{position.txid}:{position.seq}"

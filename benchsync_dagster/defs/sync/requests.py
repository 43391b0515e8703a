"""The run requests the sync's sensors make: a batch's sync run, a requeue of inbox events, a
read of the App configuration."""

from typing import Any

import dagster as dg

from benchsync_dagster.batch_decisions import BatchAttempt
from benchsync_dagster.batch_runs import batch_run_config, batch_tags
from benchsync_dagster.defs.sync.jobs import (
    MAX_RUNTIME_TAG,
    app_configuration_job,
    requeue_job,
    sync_job,
)


def sync_request(attempt: BatchAttempt, timeout_seconds: int) -> dg.RunRequest:
    """A run of ``sync_job`` for ``attempt``, cancelled by run monitoring past
    ``timeout_seconds``."""
    return dg.RunRequest(
        job_name=sync_job.name,
        run_key=attempt.run_key,
        run_config=batch_run_config(attempt.webhook_ids, attempt.config_batch),
        tags={
            **batch_tags(attempt.batch, attempt.attempt, attempt.outage_retries),
            MAX_RUNTIME_TAG: str(timeout_seconds),
        },
    )


def requeue_request(run_key: str, reason: str, **selection: Any) -> dg.RunRequest:
    """A run of ``requeue_job`` over the events ``selection`` names (``RequeueConfig``)."""
    config = {"reason": reason, **selection}
    return dg.RunRequest(
        job_name=requeue_job.name,
        run_key=run_key,
        run_config={"ops": {"requeue_events": {"config": config}}},
    )


def app_configuration_request(run_key: str, **config: Any) -> dg.RunRequest:
    """A run of ``app_configuration_job``: for the configuration webhooks ``config`` names, or
    (with none) for a change a sync run read."""
    return dg.RunRequest(
        job_name=app_configuration_job.name,
        run_key=run_key,
        run_config={"ops": {"benchling_app_configuration": {"config": config}}},
    )

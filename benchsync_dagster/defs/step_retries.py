"""Steps that call Benchling ask Dagster to run them again when they fail (``step_retries.py``
decides how often and after how long)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import dagster as dg

from benchsync_core.settings import ConfigurationError
from benchsync_dagster.step_retries import retry_after

Params = ParamSpec("Params")
Result = TypeVar("Result")


def retried_when_benchling_fails(
    compute: Callable[Concatenate[dg.AssetExecutionContext, Params], Result],
) -> Callable[Concatenate[dg.AssetExecutionContext, Params], Result]:
    """A step that calls Benchling, asking Dagster to run it again when it fails, for longer
    while Benchling is unavailable (``OUTAGE_RETRIES``: an outage pauses the sync rather than
    spending the batch's attempts), but not for a bad setting, which no retry mends.

    Requested by the step rather than declared as its ``retry_policy``: Dagster retries an
    interrupted step that has a policy, so "Terminate" in the UI would not stop the run.
    """

    @functools.wraps(compute)
    def attempt(
        context: dg.AssetExecutionContext, /, *args: Params.args, **kwargs: Params.kwargs
    ) -> Result:
        try:
            return compute(context, *args, **kwargs)
        except (ConfigurationError, dg.Failure):
            raise  # a bad setting, or a failure that says itself whether to retry
        except Exception as error:
            retry = retry_after(error, context.retry_number + 1)
            if retry.outage:
                context.log.warning(
                    f"Benchling is unavailable ({error}); trying again in"
                    f" {retry.seconds_to_wait:.0f} s"
                    f" (retry {context.retry_number + 1} of {retry.max_retries})"
                )
            raise dg.RetryRequested(
                max_retries=retry.max_retries, seconds_to_wait=retry.seconds_to_wait
            ) from error

    return attempt

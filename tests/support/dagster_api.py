"""The running Dagster webserver's GraphQL API, as the UI uses it: for tests of what the daemon
and the run workers do."""

from __future__ import annotations

import time
from typing import Any

import psycopg

from benchsync.demo.stack import Stack

STARTED_RUNS_QUERY = """
query { runsOrError(filter: {pipelineName: "sync_job", statuses: [STARTED]}) {
  ... on Runs { results { runId runConfigYaml } } } }
"""
LOGS_QUERY = """
query Logs($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { ... on MessageEvent { message } } }
  }
}
"""
ERRORS_QUERY = """
query Errors($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection { events { ... on ErrorEvent { error { message causes { message } } } } }
  }
}
"""
LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
RUNS_IN_FLIGHT_QUERY = """
query InFlight($before: Float) { runsOrError(filter: {
  statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING], createdBefore: $before}) {
  ... on Runs { results { runId pipelineName status } } } }
"""
RUN_STATUS_QUERY = """
query Status($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }
"""


def run_status(stack: Stack, run_id: str) -> str:
    return str(stack.graphql(RUN_STATUS_QUERY, {"runId": run_id})["runOrError"]["status"])


def started_sync_run(
    stack: Stack, db: psycopg.Connection[Any], entity_ids: list[str], timeout: float = 60
) -> str:
    """The first started sync run that holds an event of these entities."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        webhook_ids = [
            webhook_id
            for (webhook_id,) in db.execute(
                "SELECT webhook_id FROM benchsync.inbox WHERE resource_id = ANY(%s)", [entity_ids]
            )
        ]
        for run in stack.graphql(STARTED_RUNS_QUERY)["runsOrError"]["results"]:
            if any(webhook_id in run["runConfigYaml"] for webhook_id in webhook_ids):
                return str(run["runId"])
        time.sleep(0.5)
    raise AssertionError(f"no sync run of these entities started within {timeout} s")


def wait_until_no_run_in_flight(stack: Stack, created_before: float, timeout: float) -> None:
    """Until every run of any job created before ``created_before`` (a Unix time) has ended."""
    deadline = time.monotonic() + timeout
    while runs := stack.graphql(RUNS_IN_FLIGHT_QUERY, {"before": created_before})["runsOrError"][
        "results"
    ]:
        assert time.monotonic() < deadline, f"still in flight after {timeout} s: {runs}"
        time.sleep(1)


def wait_for_run_end(stack: Stack, run_id: str, timeout: float) -> tuple[str, float]:
    """The run's final status, and how many seconds it took to reach it."""
    started = time.monotonic()
    while (status := run_status(stack, run_id)) not in ("CANCELED", "SUCCESS", "FAILURE"):
        assert time.monotonic() - started < timeout, f"run {run_id} still {status}"
        time.sleep(0.25)
    return status, time.monotonic() - started


def run_messages(stack: Stack, run_id: str) -> list[str]:
    """The messages of the run's event log, oldest first."""
    events = stack.graphql(LOGS_QUERY, {"runId": run_id})["logsForRun"]["events"]
    return [event.get("message") or "" for event in events]


def run_errors(stack: Stack, run_id: str) -> list[str]:
    """The errors the run's event log carries (resource setup, failed steps), causes included."""
    events = stack.graphql(ERRORS_QUERY, {"runId": run_id})["logsForRun"]["events"]
    return [
        error["message"]
        for event in events
        if event.get("error")
        for error in (event["error"], *event["error"]["causes"])
    ]


def launch_run(
    stack: Stack, job_name: str, run_config: dict[str, Any], tags: dict[str, str]
) -> str:
    """Launch a run as the UI's Launchpad does; its run id."""
    params = {
        "selector": {
            "repositoryLocationName": "benchsync_dagster",
            "repositoryName": "__repository__",
            "jobName": job_name,
        },
        "runConfigData": run_config,
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }
    answer = stack.graphql(LAUNCH_RUN, {"params": params})["launchRun"]
    assert answer["__typename"] == "LaunchRunSuccess", answer
    return str(answer["run"]["runId"])

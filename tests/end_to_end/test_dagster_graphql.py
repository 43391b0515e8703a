"""What the running Dagster webserver tells through its GraphQL API: the resources' settings as
the UI's resource page shows them, and the sync runs the demo's summary counts."""

from __future__ import annotations

from datetime import UTC, datetime

from benchsync.demo.progress import summary, wait_until_synced
from benchsync.demo.stack import Stack
from tests.support.dagster_api import launch_run, run_errors, wait_for_run_end
from tests.support.listener import Listener

RESOURCE_QUERY = """
query Resource($selector: ResourceSelector!) {
  topLevelResourceDetailsOrError(resourceSelector: $selector) {
    ... on ResourceDetails { configuredValues { key value type } }
    ... on PythonError { message }
  }
}
"""


def configured_values(stack: Stack, resource: str) -> dict[str, tuple[str, str]]:
    selector = {
        "repositoryLocationName": "benchsync_dagster",
        "repositoryName": "__repository__",
        "resourceName": resource,
    }
    details = stack.graphql(RESOURCE_QUERY, {"selector": selector})
    values = details["topLevelResourceDetailsOrError"]["configuredValues"]
    return {value["key"]: (value["type"], value["value"]) for value in values}


def test_the_resource_page_shows_which_variable_feeds_each_setting(stack: Stack) -> None:
    benchling = configured_values(stack, "benchling")
    assert benchling["tenant_url"] == ("ENV_VAR", "BENCHLING_TENANT_URL")
    assert benchling["client_id"] == ("ENV_VAR", "CLIENT_ID")
    # The demo passes the emulator's secret inline: the page names its variable, not its value.
    assert benchling["client_secret"] == ("ENV_VAR", "CLIENT_SECRET")
    # The stack tells the sync its emulated tenant's limit.
    assert benchling["rate_limit"] == ("ENV_VAR", "BENCHSYNC_BENCHLING_RATE_LIMIT")
    assert configured_values(stack, "postgres")["database_url"] == (
        "ENV_VAR",
        "BENCHSYNC_DATABASE_URL",
    )
    assert set(configured_values(stack, "sync_settings")) >= {"max_batch_size", "max_attempts"}


def test_the_demo_summary_counts_the_sync_runs(stack: Stack) -> None:
    started = datetime.now(UTC)
    assert stack.emulator is not None
    entity_ids = stack.emulator.tenant.create_registered(5)

    progress = wait_until_synced(stack, entity_ids, timeout=120)
    report = dict(
        line.strip().split("  ", 1)
        for line in summary(stack, entity_ids, progress, started).splitlines()
    )

    assert report["events synced"].strip() == "5"
    assert int(report["runs"]) >= 1
    assert report["failed runs"].strip() == "0"


def test_a_run_launched_from_the_ui_cannot_send_the_credentials_elsewhere(
    stack: Stack, listener: Listener
) -> None:
    """As a UI user would: the Launchpad's run config points the tenant at another host."""
    run_config = {
        "resources": {
            "benchling": {
                "config": {
                    "tenant_url": listener.url,
                    "client_id": {"env": "CLIENT_ID"},
                    "client_secret": {"env": "CLIENT_SECRET"},
                }
            }
        }
    }

    run_id = launch_run(stack, "reconciliation_job", run_config, tags={})
    status, _ = wait_for_run_end(stack, run_id, timeout=120)

    assert status == "FAILURE"
    errors = run_errors(stack, run_id)
    assert any("resources.benchling.config.tenant_url" in error for error in errors), errors
    assert listener.connections == 0

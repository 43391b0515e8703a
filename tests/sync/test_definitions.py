"""The code location loads as Dagster loads it, with the lineage and automation it promises."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from benchsync_dagster.definitions import defs
from benchsync_dagster.defs.resources import PostgresResource
from tests.support.dagster import validate_code_location


def test_definitions_are_loadable() -> None:
    dg.Definitions.validate_loadable(defs())


def test_the_lineage_runs_from_the_edge_through_the_inbox_to_the_tables() -> None:
    """Benchling → the bridge's inbox → the tables; the poll and the reconciliation, which
    write the tables too, are upstream of them, never downstream."""
    graph = defs().resolve_asset_graph()
    registry, inbox = dg.AssetKey("benchling_registry"), dg.AssetKey("benchling_webhook_inbox")
    snapshots = dg.AssetKey("benchling_entity_snapshots")
    synced = dg.AssetKey("synced_benchling_data")
    configuration = dg.AssetKey("benchling_app_configuration")
    poll, reconciliation = dg.AssetKey("registry_poll"), dg.AssetKey("registry_reconciliation")

    assert graph.get(inbox).parent_keys == {registry}
    assert not graph.get(inbox).is_materializable  # the bridge writes it, outside Dagster
    assert graph.get(snapshots).parent_keys == {registry, inbox, poll, reconciliation}
    assert graph.get(configuration).parent_keys == {registry, inbox}
    assert graph.get(synced).parent_keys == {snapshots, configuration}
    assert graph.get(poll).parent_keys == {registry}
    assert graph.get(reconciliation).parent_keys == {registry}


def test_the_inbox_checks_are_the_inbox_s_and_run_after_every_sync() -> None:
    definitions = defs()
    inbox = dg.AssetKey("benchling_webhook_inbox")
    checks = {key for checks in definitions.asset_checks or [] for key in checks.check_keys}
    for name in ("no_event_pending_too_long", "no_recent_dead_letters"):
        assert dg.AssetCheckKey(inbox, name) in checks
    sync = definitions.resolve_job_def("sync_job")
    assert {
        dg.AssetCheckKey(inbox, "no_event_pending_too_long"),
        dg.AssetCheckKey(inbox, "no_recent_dead_letters"),
    } <= sync.asset_layer.asset_graph.asset_check_keys


def test_the_sensors_and_the_schedules_run_by_default() -> None:
    for sensor in ("inbox_sensor", "retry_failed_batches"):
        status = defs().resolve_sensor_def(sensor).default_status
        assert status == dg.DefaultSensorStatus.RUNNING
    for name in ("reconciliation_schedule", "inbox_retention_schedule"):
        schedule = defs().resolve_schedule_def(name)
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_sync_runs_and_polls_are_retried_by_their_sensors_alone() -> None:
    """The daemon's run retries (dagster.yaml) skip sync runs, one owner for a failed batch, and
    polls, which their sensor requests every interval anyway."""
    for job in ("sync_job", "poll_job"):
        assert defs().resolve_job_def(job).tags["dagster/max_retries"] == "0"


def test_every_job_has_a_time_limit() -> None:
    """The default run launcher cannot see a dead run process: only run monitoring's time limit
    ends a run that a crash left STARTED (holding its pool slot, or blocking the next poll).
    The implicit asset job (the UI's Materialize) has dagster.yaml's max_runtime_seconds."""
    for job in defs().resolve_all_job_defs():
        if not job.name.startswith("__"):
            assert int(job.tags["dagster/max_runtime"]) > 0, job.name


def test_the_polls_the_sensor_requests_have_the_configured_time_limit(
    monkeypatch: pytest.MonkeyPatch, migrated_database_url: str
) -> None:
    monkeypatch.setenv("BENCHSYNC_RUN_TIMEOUT_SECONDS", "75")
    poll = defs().resolve_sensor_def("poll_sensor")
    postgres = PostgresResource(database_url=migrated_database_url)  # the tick reads the inbox
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(instance=instance, resources={"postgres": postgres}) as context,
    ):
        result = poll.evaluate_tick(context)
    assert [request.tags["dagster/max_runtime"] for request in result.run_requests or []] == ["75"]


def test_dagster_validates_the_code_location_as_workspace_yaml_names_it(tmp_path: Path) -> None:
    result = validate_code_location(tmp_path)
    assert result.returncode == 0, result.stderr

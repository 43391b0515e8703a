"""dagster.yaml: valid for the installed Dagster, and bounded in what it keeps."""

from __future__ import annotations

from dagster._core.definitions.run_request import InstigatorType
from dagster._core.instance.config import dagster_instance_config, get_tick_retention_settings
from dagster._core.scheduler.instigation import TickStatus

from tests.deployment.stack import REPO


def test_dagster_yaml_passes_the_instance_schema() -> None:
    config, _ = dagster_instance_config(str(REPO))

    assert config["run_monitoring"]["enabled"]
    assert config["run_monitoring"]["max_runtime_seconds"] > 0  # runs without their own limit
    assert config["sensors"]["use_threads"]
    assert config["run_coordinator"]["config"]["dequeue_interval_seconds"] == 1


def test_sensor_ticks_of_every_status_are_purged() -> None:
    config, _ = dagster_instance_config(str(REPO))
    defaults = {status: -1 for status in TickStatus}

    kept_days = get_tick_retention_settings(
        config["retention"][InstigatorType.SENSOR.value.lower()], defaults
    )

    assert all(days > 0 for days in kept_days.values()), kept_days
    assert kept_days[TickStatus.SUCCESS] <= 7

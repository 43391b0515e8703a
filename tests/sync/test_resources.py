"""Configuration: environment variables reach typed resource fields through ``dg.EnvVar``, and a
missing or bad value is reported by name when first used, never as a code location that fails."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from benchsync_core.settings import ConfigurationError
from benchsync_dagster.definitions import defs, resources_from_env
from benchsync_dagster.defs.reconciliation.schedules import reconciliation_schedule
from benchsync_dagster.defs.resources import BenchlingResource, SyncSettings

SETTINGS_VARIABLES = (
    "BENCHLING_TENANT_URL",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CLIENT_SECRET_FILE",
    "BENCHLING_APP_ID",
    "BENCHSYNC_BENCHLING_RATE_LIMIT",
    "BENCHSYNC_CONFIG_REFRESH_SECONDS",
    "BENCHSYNC_MAX_BATCH_SIZE",
    "BENCHSYNC_MAX_RUNS_IN_FLIGHT",
    "BENCHSYNC_MAX_ATTEMPTS",
    "BENCHSYNC_MAX_PENDING_SECONDS",
    "BENCHSYNC_RECONCILE_CRON",
    "BENCHSYNC_RECONCILE_MAX_VANISHED_PERCENT",
    "BENCHSYNC_SCHEMAS",
    "BENCHSYNC_POLL_INTERVAL_SECONDS",
)


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in SETTINGS_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    # The Benchling resource holds the Postgres one (its rate budget lives there); nothing here
    # connects to it.
    monkeypatch.setenv("BENCHSYNC_DATABASE_URL", "postgresql://unused@127.0.0.1:1/none")


def the_whole_error(error: BaseException) -> str:
    """The error and its causes (Dagster wraps what a resource raises), as the UI shows them."""
    messages = []
    cause: BaseException | None = error
    while cause is not None:
        messages.append(str(cause))
        cause = cause.__cause__
    return "\n".join(messages)


def built(name: str) -> object:
    with dg.build_resources({name: resources_from_env()[name]}) as resources:
        return getattr(resources, name)


def test_the_code_location_loads_with_nothing_configured() -> None:
    dg.Definitions.validate_loadable(defs())


def test_variables_fill_the_fields_when_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = tmp_path / "client_secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("BENCHLING_TENANT_URL", "https://my-tenant.benchling.com")
    monkeypatch.setenv("CLIENT_ID", "Ts7jtwPohM")
    monkeypatch.setenv("CLIENT_SECRET_FILE", str(secret))
    monkeypatch.setenv("BENCHSYNC_BENCHLING_RATE_LIMIT", "30")
    monkeypatch.setenv("BENCHSYNC_MAX_BATCH_SIZE", "200")
    monkeypatch.setenv("BENCHSYNC_RECONCILE_MAX_VANISHED_PERCENT", "25")

    benchling = built("benchling")
    sync_settings = built("sync_settings")

    assert isinstance(benchling, BenchlingResource)
    assert (benchling.tenant_url, benchling.client_id, benchling.rate_limit) == (
        "https://my-tenant.benchling.com",
        "Ts7jtwPohM",
        30,
    )
    assert benchling.app_id is None
    assert isinstance(sync_settings, SyncSettings)
    assert (sync_settings.max_batch_size, sync_settings.max_attempts) == (200, 3)
    assert sync_settings.reconcile_max_vanished_percent == 25


def test_the_resource_page_shows_variables_not_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENT_SECRET", "never-shown")
    benchling = resources_from_env()["benchling"]
    # What Dagster stores for the UI: the variable's name, not its value.
    config = benchling.get_resource_definition().config_schema.default_value
    assert config["client_secret"] == {"env": "CLIENT_SECRET"}
    assert config["tenant_url"] == {"env": "BENCHLING_TENANT_URL"}
    assert "never-shown" not in repr(config)


def test_a_missing_variable_is_named_at_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENT_ID", "Ts7jtwPohM")
    with pytest.raises(Exception, match="BENCHLING_TENANT_URL"):
        built("benchling")


@pytest.mark.parametrize(
    ("variable", "value", "resource"),
    [
        ("BENCHSYNC_MAX_BATCH_SIZE", "0", "sync_settings"),
        ("BENCHSYNC_MAX_ATTEMPTS", "many", "sync_settings"),
        ("BENCHSYNC_SCHEMAS", " , ", "sync_settings"),
        ("BENCHSYNC_POLL_INTERVAL_SECONDS", "-1", "sync_settings"),
        ("BENCHSYNC_RECONCILE_MAX_VANISHED_PERCENT", "101", "sync_settings"),
        ("BENCHSYNC_RECONCILE_MAX_VANISHED_PERCENT", "-1", "sync_settings"),
        ("BENCHSYNC_RECONCILE_MAX_VANISHED_PERCENT", "0.1", "sync_settings"),
        ("BENCHSYNC_BENCHLING_RATE_LIMIT", "-5", "benchling"),
        ("CLIENT_SECRET_FILE", "/nonexistent/client_secret", "benchling"),
        ("BENCHLING_TENANT_URL", "my-tenant.benchling.com", "benchling"),
    ],
)
def test_a_bad_value_is_named_at_first_use(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, resource: str
) -> None:
    monkeypatch.setenv("BENCHLING_TENANT_URL", "https://my-tenant.benchling.com")
    monkeypatch.setenv("CLIENT_ID", "Ts7jtwPohM")
    monkeypatch.setenv("CLIENT_SECRET", "s3cret")
    monkeypatch.setenv(variable, value)

    with pytest.raises(Exception) as raised:
        built(resource)
    assert variable in the_whole_error(raised.value)


def test_no_secret_at_all_says_which_variables_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHLING_TENANT_URL", "https://my-tenant.benchling.com")
    monkeypatch.setenv("CLIENT_ID", "Ts7jtwPohM")
    with pytest.raises(Exception) as raised:
        built("benchling")
    assert isinstance(raised.value.__cause__, ConfigurationError)
    assert "CLIENT_SECRET_FILE" in str(raised.value.__cause__)


def test_a_cron_dagster_rejects_keeps_the_location_loading_and_fails_each_tick() -> None:
    schedule = reconciliation_schedule("every night")
    assert schedule.cron_schedule == "0 2 * * *"

    with pytest.raises(Exception, match="BENCHSYNC_RECONCILE_CRON"):
        schedule.evaluate_tick(dg.build_schedule_context())


def test_the_cron_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCHSYNC_RECONCILE_CRON", "30 3 * * *")
    schedule = defs().resolve_schedule_def("reconciliation_schedule")
    assert schedule.cron_schedule == "30 3 * * *"


def test_the_schedule_reconciles_in_full() -> None:
    schedule = defs().resolve_schedule_def("reconciliation_schedule")
    (request,) = schedule.evaluate_tick(dg.build_schedule_context()).run_requests or []
    assert request.run_config == {"ops": {"registry_reconciliation": {"config": {"full": True}}}}

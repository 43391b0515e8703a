"""Where credentials go is the deployment's setting: no run config (the Launchpad's, or GraphQL
``launchRun``'s) can point the App's credentials or the database password at another host, or
make a run read another file. Runs are launched as the code location defines them, with the
environment a deployment sets; a listening socket stands in for an attacker's server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from benchsync_dagster.definitions import defs, resources_from_env
from benchsync_dagster.defs.resources import BenchlingResource, PostgresResource
from tests.support.listener import Listener


@pytest.fixture
def deployment(
    monkeypatch: pytest.MonkeyPatch, migrated_database_url: str, tmp_path: Path
) -> dg.Definitions:
    """benchsync's definitions as a deployment runs them: settings from the environment."""
    secret = tmp_path / "client_secret"
    secret.write_text("the-app-secret\n")
    monkeypatch.setenv("BENCHSYNC_DATABASE_URL", migrated_database_url)
    monkeypatch.setenv("BENCHLING_TENANT_URL", "https://my-tenant.benchling.com")
    monkeypatch.setenv("CLIENT_ID", "Ts7jtwPohM")
    monkeypatch.setenv("CLIENT_SECRET_FILE", str(secret))
    monkeypatch.delenv("CLIENT_SECRET", raising=False)
    return defs()


# Dagster asks for a resource's other required fields once its config is given at all; an
# attacker names their own variables, as the Launchpad's scaffold does.
REQUIRED_BENCHLING_FIELDS = {
    "tenant_url": {"env": "BENCHLING_TENANT_URL"},
    "client_id": {"env": "CLIENT_ID"},
}


def launch(definitions: dg.Definitions, job: str, resources: dict[str, Any]) -> str:
    """Run ``job`` with ``resources`` as its run config's resources section; the error text."""
    if "benchling" in resources:
        resources["benchling"]["config"] = {
            **REQUIRED_BENCHLING_FIELDS,
            **resources["benchling"]["config"],
        }
    result = definitions.resolve_job_def(job).execute_in_process(
        run_config={"resources": resources}, raise_on_error=False
    )
    assert not result.success, "a run whose config moves a credential must not succeed"
    failures = [event for event in result.all_events if event.is_failure]
    return "\n".join(str(event.event_specific_data) for event in failures)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("resource", "field", "variable"),
    [
        ("benchling", "tenant_url", "BENCHLING_TENANT_URL"),
        ("postgres", "database_url", "BENCHSYNC_DATABASE_URL"),
    ],
)
def test_run_config_cannot_send_credentials_to_another_host(
    deployment: dg.Definitions, listener: Listener, resource: str, field: str, variable: str
) -> None:
    target = listener.url if resource == "benchling" else listener.postgres_url

    error = launch(deployment, "reconciliation_job", {resource: {"config": {field: target}}})

    assert f"resources.{resource}.config.{field}" in error
    assert variable in error
    assert listener.connections == 0


@pytest.mark.integration
def test_run_config_cannot_name_another_variable_for_a_credential(
    deployment: dg.Definitions, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOME_OTHER_URL", listener.url)

    error = launch(
        deployment,
        "reconciliation_job",
        {"benchling": {"config": {"tenant_url": {"env": "SOME_OTHER_URL"}}}},
    )

    assert "BENCHLING_TENANT_URL" in error
    assert listener.connections == 0


@pytest.mark.integration
def test_run_config_cannot_make_a_run_read_another_file(
    deployment: dg.Definitions, tmp_path: Path
) -> None:
    private = tmp_path / "private_key"
    private.write_text("not for Benchling\n")

    error = launch(
        deployment,
        "reconciliation_job",
        {"benchling": {"config": {"client_secret_file": str(private)}}},
    )

    assert "CLIENT_SECRET_FILE" in error


@pytest.mark.integration
def test_a_credential_bound_to_its_own_variable_is_let_through(
    deployment: dg.Definitions,
) -> None:
    """What the Launchpad's "scaffold all default config" writes changes nothing."""
    result = deployment.resolve_job_def("inbox_retention_job").execute_in_process(
        run_config={
            "resources": {
                "postgres": {"config": {"database_url": {"env": "BENCHSYNC_DATABASE_URL"}}}
            }
        }
    )

    assert result.success


def test_every_deployment_setting_is_bound_to_its_own_variable() -> None:
    """The variables the guard lets through are the ones the code location reads."""
    resources = resources_from_env()
    for key, resource_type in (("benchling", BenchlingResource), ("postgres", PostgresResource)):
        fields = resources[key].model_dump()
        for field, variable in resource_type.DEPLOYMENT_VARIABLES.items():
            assert field in type(resources[key]).model_fields
            bound = fields[field]
            # Optional settings are bound only when their variable is set (None otherwise).
            assert bound is None or bound == variable or getattr(bound, "env_var_name", None)

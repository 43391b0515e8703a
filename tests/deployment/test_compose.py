"""docker-compose.yaml, parsed and checked against the code, the Dockerfile and the example app."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy.engine import make_url

from benchsync_dagster.definitions import resources_from_env
from benchsync_dagster.defs.resources import BenchlingResource
from tests.deployment.stack import (
    DOTENV,
    INTERPOLATION,
    REPO,
    benchsync_services,
    check_command,
    compose,
    dagster_yaml_env_names,
    env_names_read_by_code,
    environment,
    image_env,
    interpolate,
    load_yaml,
    repo_path_in_image,
    services,
)
from webhook_sensor_bridge.settings import Settings

DAGSTER_SERVICES = ("dagster-code", "dagster-webserver", "dagster-daemon")
BRIDGE_ROLE = "benchsync_bridge"
SECRETS_DIR = "/run/secrets/"


def option(command: list[str], *names: str) -> str:
    """The value after the first of ``names`` in ``command``."""
    index = next(i for i, word in enumerate(command) if word in names)
    return command[index + 1]


def test_the_stack_has_the_example_apps_services_and_dagsters() -> None:
    assert {"postgres", "bridge", "local-tunnel"} <= set(services())
    assert {"migrate", *DAGSTER_SERVICES} <= set(benchsync_services())


@pytest.mark.parametrize(
    ("service", "published"),
    [("postgres", "5438:5432"), ("bridge", "8000:8000"), ("dagster-webserver", "3000:3000")],
)
def test_ports_are_the_example_apps_and_dagsters_defaults(service: str, published: str) -> None:
    assert services()[service]["ports"] == [published]


def test_the_target_database_is_the_example_apps() -> None:
    postgres = services()["postgres"]
    # Pinned by digest, which POSTGRES_IMAGE replaces only in the compose test (stand-ins).
    assert re.fullmatch(r"postgres:16@sha256:[0-9a-f]{64}", interpolate(postgres["image"]))
    assert environment("postgres") == {
        "POSTGRES_DB": "benchling",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD_FILE": SECRETS_DIR + "database_password",
    }


def test_the_secret_files_are_the_ones_the_readme_has_users_create() -> None:
    files = {secret["file"] for secret in compose()["secrets"].values()}
    assert files == {".client_secret", ".database_password"}


@pytest.mark.parametrize("service", sorted(services()))
def test_each_secret_file_variable_names_a_secret_the_service_mounts(service: str) -> None:
    for name, value in environment(service).items():
        if name.endswith("_FILE"):
            assert value.startswith(SECRETS_DIR), f"{service}: {name}={value}"
            assert value.removeprefix(SECRETS_DIR) in services()[service]["secrets"]


@pytest.mark.parametrize("service", sorted(benchsync_services()))
def test_each_command_is_a_real_console_script_with_real_options(service: str) -> None:
    check_command(services()[service]["command"])


@pytest.mark.parametrize("service", sorted(benchsync_services()))
def test_every_variable_set_is_one_the_code_reads(service: str) -> None:
    assert set(environment(service)) <= env_names_read_by_code()


@pytest.mark.parametrize("service", sorted(benchsync_services()))
def test_values_from_dotenv_keep_the_codes_names(service: str) -> None:
    declared = services()[service].get("environment", {})
    for name, value in declared.items():
        for match in INTERPOLATION.finditer(str(value)):
            assert match["name"] == name, f"{service}: {name} is read from .env as {match[0]}"


def test_the_code_server_loads_the_code_location() -> None:
    command = services()["dagster-code"]["command"]
    module = importlib.import_module(option(command, "-m", "--module-name"))
    assert isinstance(module.defs(), dg.Definitions)


def test_the_webserver_and_daemon_load_it_from_the_code_server() -> None:
    code_server = services()["dagster-code"]["command"]
    expected = {
        "host": "dagster-code",
        "port": int(option(code_server, "-p", "--port")),
        "location_name": option(code_server, "--location-name"),
    }
    for service in ("dagster-webserver", "dagster-daemon"):
        workspace_file = repo_path_in_image(option(services()[service]["command"], "-w"))
        assert workspace_file is not None, f"{service}: its workspace file is not in the image"
        (location,) = load_yaml(workspace_file)["load_from"]
        assert location["grpc_server"] == expected


def test_dagster_processes_share_the_instance_and_its_storage() -> None:
    dagster_home = image_env()["DAGSTER_HOME"]
    assert repo_path_in_image(f"{dagster_home}/dagster.yaml") == REPO / "dagster.yaml"
    for service in DAGSTER_SERVICES:
        assert dagster_yaml_env_names() <= set(environment(service)), service
        assert f"dagster-storage:{dagster_home}/storage" in services()[service]["volumes"]


def test_both_databases_live_in_the_target_postgres() -> None:
    database_env = environment("postgres")
    init_sql = compose()["configs"]["create-dagster-database"]["content"]
    created = re.findall(r"CREATE DATABASE (\w+)", init_sql)
    for service, variable, database in [
        ("migrate", "BENCHSYNC_DATABASE_URL", database_env["POSTGRES_DB"]),
        ("dagster-daemon", "DAGSTER_POSTGRES_URL", *created),
    ]:
        url = urlsplit(environment(service)[variable])
        assert (url.hostname, url.port, url.path) == ("postgres", 5432, f"/{database}")
        assert url.username == database_env["POSTGRES_USER"]
        # The password comes from the secret file, as a passfile the image's entrypoint writes.
        assert url.password is None
        password_file = environment(service)["BENCHSYNC_DATABASE_PASSWORD_FILE"]
        assert password_file == database_env["POSTGRES_PASSWORD_FILE"]


def test_dagster_storage_connects_through_psycopg2() -> None:
    # dagster.yaml: a bare postgresql:// makes SQLAlchemy pick psycopg 3, which Dagster fails on.
    url = make_url(environment("dagster-daemon")["DAGSTER_POSTGRES_URL"])
    assert url.get_dialect().driver == "psycopg2"


def test_the_bridge_has_every_setting_it_needs() -> None:
    settings = Settings.from_env(environment("bridge"))
    assert settings.database_url == environment("bridge")["BENCHSYNC_DATABASE_URL"]
    assert DOTENV["APP_DEFINITION_ID"] in (settings.jwks_url or "")


def test_the_code_server_has_every_benchling_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment("dagster-code")
    assert env["CLIENT_SECRET_FILE"] == SECRETS_DIR + "client_secret"
    secret = tmp_path / "client_secret"
    secret.write_text("s3cret\n")
    for name, value in {**env, "CLIENT_SECRET_FILE": str(secret)}.items():
        monkeypatch.setenv(name, value)
    with dg.build_resources({"benchling": resources_from_env()["benchling"]}) as built:
        benchling: BenchlingResource = built.benchling
        assert (benchling.tenant_url, benchling.client_id) == (
            DOTENV["BENCHLING_TENANT_URL"],
            DOTENV["CLIENT_ID"],
        )


def test_the_bridge_connects_as_the_role_granted_only_the_inbox() -> None:
    url = urlsplit(environment("bridge")["BENCHSYNC_DATABASE_URL"])
    assert (url.username, url.password) == (BRIDGE_ROLE, None)
    assert services()["grant-bridge"]["command"] == ["benchsync", "db", "grant-bridge", BRIDGE_ROLE]
    assert services()["grant-bridge"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert services()["bridge"]["depends_on"] == {
        "grant-bridge": {"condition": "service_completed_successfully"}
    }
    mounted = {config["source"]: config["target"] for config in services()["postgres"]["configs"]}
    assert mounted["create-bridge-role"].startswith("/docker-entrypoint-initdb.d/")


def test_the_init_script_creates_the_bridge_login_with_the_database_password(
    migrated_database_url: str,
) -> None:
    # Compose turns $$ into $; the postgres image runs the script with these variables set
    # (POSTGRES_PASSWORD read from POSTGRES_PASSWORD_FILE).
    script = compose()["configs"]["create-bridge-role"]["content"].replace("$$", "$")
    server = conninfo_to_dict(migrated_database_url)
    env = {
        "PATH": os.environ["PATH"],
        "PGHOST": str(server.get("host", "127.0.0.1")),
        "PGPORT": str(server.get("port", 5432)),
        "POSTGRES_USER": str(server.get("user", "postgres")),
        "POSTGRES_DB": str(server["dbname"]),
        "POSTGRES_PASSWORD": "it's a \\ p@ss:word",
    }
    with psycopg.connect(migrated_database_url, autocommit=True) as connection:
        connection.execute(f"DROP ROLE IF EXISTS {BRIDGE_ROLE}")  # a run interrupted earlier
    try:
        subprocess.run(["sh", "-c", script], env=env, check=True, capture_output=True)
        with psycopg.connect(migrated_database_url) as connection:
            row = connection.execute(
                "SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = %s",
                [BRIDGE_ROLE],
            ).fetchone()
        assert row is not None and row[0]
        assert row[1] is not None and row[1].startswith("SCRAM-SHA-256$")
    finally:
        with psycopg.connect(migrated_database_url, autocommit=True) as connection:
            connection.execute(f"DROP ROLE IF EXISTS {BRIDGE_ROLE}")


def test_migrations_run_before_anything_uses_the_tables() -> None:
    assert services()["migrate"]["command"] == ["benchsync", "db", "upgrade"]
    for service in ("grant-bridge", "dagster-code", "dagster-daemon"):
        assert services()[service]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert services()["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_services_wait_only_for_services_that_report_health() -> None:
    for name, service in services().items():
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services()[dependency], f"{name} waits on {dependency}"


@pytest.mark.parametrize(
    ("service", "probe"),
    [
        ("postgres", "pg_isready"),
        ("bridge", "http://127.0.0.1:8000/health"),
        ("dagster-webserver", "http://127.0.0.1:3000/server_info"),
        ("dagster-code", "grpc-health-check"),
    ],
)
def test_healthchecks_probe_what_the_service_serves(service: str, probe: str) -> None:
    test = services()[service]["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert any(probe in word for word in test)


def test_localtunnel_forwards_to_the_bridge() -> None:
    tunnel = services()["local-tunnel"]
    bridge_command = services()["bridge"]["command"]
    assert tunnel["image"] == "efrecon/localtunnel"
    assert option(tunnel["command"], "--local-host") == "bridge"
    assert option(tunnel["command"], "--port") == option(bridge_command, "--port")

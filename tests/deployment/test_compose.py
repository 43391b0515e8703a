"""docker-compose.yaml, parsed and checked against the code, the Dockerfile and the example app."""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest
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
OWNER_ROLE = "benchsync_owner"
SECRETS_DIR = "/run/secrets/"
# The secret holding each role's password.
ROLE_SECRETS = {
    "postgres": "database_password",
    OWNER_ROLE: "benchsync_database_password",
    BRIDGE_ROLE: "bridge_database_password",
}
ROLES_SCRIPT = REPO / "deploy" / "postgres-roles.sh"


def option(command: list[str], *names: str) -> str:
    """The value after the first of ``names`` in ``command``."""
    index = next(i for i, word in enumerate(command) if word in names)
    return command[index + 1]


def test_the_stack_has_the_example_apps_services_and_dagsters() -> None:
    assert {"postgres", "bridge", "local-tunnel"} <= set(services())
    assert {"migrate", *DAGSTER_SERVICES} <= set(benchsync_services())


def published(service: str, dotenv: dict[str, str] = DOTENV) -> list[str]:
    return [interpolate(port, dotenv) for port in services()[service]["ports"]]


@pytest.mark.parametrize(
    ("service", "ports"),
    [
        # No login on Dagster's UI, a superuser in Postgres: the host's loopback only.
        ("postgres", "127.0.0.1:5438:5432"),
        ("dagster-webserver", "127.0.0.1:3000:3000"),
        # The one service meant to be reached from outside.
        ("bridge", "0.0.0.0:8000:8000"),
    ],
)
def test_ports_are_the_example_apps_and_dagsters_on_the_interfaces_each_needs(
    service: str, ports: str
) -> None:
    assert published(service) == [ports]


def test_the_ui_and_postgres_reach_other_interfaces_only_when_the_user_opts_in() -> None:
    opted_in = {**DOTENV, "BENCHSYNC_PUBLISH_ADDRESS": "0.0.0.0"}  # noqa: S104 (the user's choice)
    assert published("dagster-webserver", opted_in) == ["0.0.0.0:3000:3000"]
    assert published("postgres", opted_in) == ["0.0.0.0:5438:5432"]
    narrowed = {**DOTENV, "BENCHSYNC_BRIDGE_PUBLISH_ADDRESS": "127.0.0.1"}
    assert published("bridge", narrowed) == ["127.0.0.1:8000:8000"]


def test_the_target_database_is_the_example_apps() -> None:
    postgres = services()["postgres"]
    # Pinned by digest, which POSTGRES_IMAGE replaces only in the compose test (stand-ins).
    assert re.fullmatch(r"postgres:16@sha256:[0-9a-f]{64}", interpolate(postgres["image"]))
    assert environment("postgres") == {
        "POSTGRES_DB": "benchling",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD_FILE": SECRETS_DIR + ROLE_SECRETS["postgres"],
        "BENCHSYNC_OWNER_PASSWORD_FILE": SECRETS_DIR + ROLE_SECRETS[OWNER_ROLE],
        "BENCHSYNC_BRIDGE_PASSWORD_FILE": SECRETS_DIR + ROLE_SECRETS[BRIDGE_ROLE],
    }


def test_the_secret_files_are_the_ones_the_readme_has_users_create() -> None:
    files = {name: secret["file"] for name, secret in compose()["secrets"].items()}
    assert files == {
        "client_secret": ".client_secret",
        **{secret: f".{secret}" for secret in ROLE_SECRETS.values()},
    }
    readme = (REPO / "README.md").read_text()
    for file in files.values():
        assert re.search(rf"> {re.escape(file)}\s", readme), f"the README never creates {file}"
    ignored = subprocess.run(
        ["git", "check-ignore", *files.values()], cwd=REPO, capture_output=True, text=True
    )
    assert sorted(ignored.stdout.split()) == sorted(files.values()), "never commit a secret"


@pytest.mark.parametrize("service", sorted(benchsync_services()))
def test_each_service_holds_the_password_of_the_role_it_connects_as_and_no_other(
    service: str,
) -> None:
    env = environment(service)
    users = {
        make_url(env[variable]).username
        for variable in ("BENCHSYNC_DATABASE_URL", "DAGSTER_POSTGRES_URL")
        if variable in env
    }
    database_secrets = [
        name for name in services()[service]["secrets"] if name in ROLE_SECRETS.values()
    ]
    if not users:
        assert not database_secrets
        return
    (user,) = users
    # Never the superuser: it runs nothing but Postgres.
    assert user in (OWNER_ROLE, BRIDGE_ROLE)
    assert database_secrets == [ROLE_SECRETS[user]]
    assert env["BENCHSYNC_DATABASE_PASSWORD_FILE"] == SECRETS_DIR + ROLE_SECRETS[user]


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
    created = re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", ROLES_SCRIPT.read_text())
    assert created == [("dagster", OWNER_ROLE)]
    for service, variable, database in [
        ("migrate", "BENCHSYNC_DATABASE_URL", database_env["POSTGRES_DB"]),
        ("dagster-daemon", "DAGSTER_POSTGRES_URL", "dagster"),
    ]:
        url = urlsplit(environment(service)[variable])
        assert (url.hostname, url.port, url.path) == ("postgres", 5432, f"/{database}")
        # Not the superuser: the owner of benchsync's tables and of Dagster's database.
        assert url.username == OWNER_ROLE
        # The password comes from the secret file, as a passfile the image's entrypoint writes.
        assert url.password is None


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
    assert mounted["create-roles"].startswith("/docker-entrypoint-initdb.d/")
    assert REPO / compose()["configs"]["create-roles"]["file"] == ROLES_SCRIPT


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


def test_localtunnel_is_opt_in_and_pinned_to_a_tag_its_user_can_replace_by_a_digest() -> None:
    tunnel = services()["local-tunnel"]
    assert tunnel["profiles"] == ["tunnel"]
    assert interpolate(tunnel["image"]) == "efrecon/localtunnel:latest"
    pinned = "efrecon/localtunnel:latest@sha256:" + "0" * 64
    assert interpolate(tunnel["image"], {**DOTENV, "LOCALTUNNEL_IMAGE": pinned}) == pinned


def test_localtunnel_forwards_to_the_bridge() -> None:
    tunnel = services()["local-tunnel"]
    bridge_command = services()["bridge"]["command"]
    assert option(tunnel["command"], "--local-host") == "bridge"
    assert option(tunnel["command"], "--port") == option(bridge_command, "--port")

"""docker-compose.yaml run for real (`make compose-test`): the stack, with the Benchling emulator
standing in for the tenant (deploy/compose-test/docker-compose.emulator.yaml), syncs registered
entities into ``synced_benchling_data``, and a restart of the bridge and the daemon loses none.

deploy/compose-test/run.sh readies the machine (Docker, Compose, stand-in base images) and sets
``BENCHSYNC_COMPOSE`` to the Compose binary. The stack runs from a temporary copy of the build
inputs, with throwaway secrets and .env, so a user's own files are never touched. Every request
goes to a port published on the host's loopback.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]

# `-m "not faults"` and the like override the default `-m "not compose"`: without run.sh's
# Docker set up, skip rather than fail.
if not os.environ.get("BENCHSYNC_COMPOSE"):
    pytest.skip(
        "needs Docker set up by deploy/compose-test/run.sh: `make compose-test`",
        allow_module_level=True,
    )

REPO = Path(__file__).resolve().parents[2]
OVERRIDE = "deploy/compose-test/docker-compose.emulator.yaml"
PROJECT = "benchsync-compose-test"
# What the image build and the compose files read; the rest of the repo stays behind.
BUILD_INPUTS = (
    "docker-compose.yaml",
    "Dockerfile",
    ".dockerignore",
    "pyproject.toml",
    "README.md",
    "dagster.yaml",
    "benchsync",
    "webhook_sensor_bridge",
    "benchsync_dagster",
    "benchling_emulator",
    "deploy",
)
# Every long-running service but local-tunnel, which needs the internet; Compose starts the
# one-shot migrate and grant-bridge first, as their dependants ask.
SERVICES = ("postgres", "emulator", "bridge", "dagster-code", "dagster-webserver", "dagster-daemon")
DOTENV = {
    "CLIENT_ID": "compose-test-client",
    "APP_DEFINITION_ID": "appdef_composetest",
    "BENCHLING_APP_ID": "app_composetest1",
    "BENCHLING_TENANT_URL": "http://emulator:8900",
}
EMULATOR_URL = "http://127.0.0.1:8900"
# The stack's Postgres through its published port, without the user (run_psql adds it).
PSQL = ("psql", "-h", "localhost", "-p", "5438", "-d", "benchling")
# What an id from the emulator looks like: safe to quote into SQL.
ENTITY_ID = re.compile(r"[A-Za-z0-9_]+")
HEALTHY_TIMEOUT_SECONDS = 420
SYNC_TIMEOUT_SECONDS = 180


@dataclass
class Stack:
    directory: Path
    compose_command: list[str]
    database_password: str

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Runs ``docker compose ARGS`` on the stack; a failure says what Compose printed."""
        result = subprocess.run(
            [*self.compose_command, *args],
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, (
            f"docker compose {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
        return result

    def logs(self, tail: int = 60) -> str:
        result = subprocess.run(
            [*self.compose_command, "logs", "--no-color", "--tail", str(tail)],
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return result.stdout + result.stderr

    def run_psql(self, sql: str, user: str = "postgres") -> subprocess.CompletedProcess[str]:
        """``psql -h localhost -p 5438 -U USER -d benchling``, as the README has users run it."""
        return subprocess.run(
            [*PSQL, "-U", user, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PGPASSWORD": self.database_password, "PGCONNECT_TIMEOUT": "10"},
        )

    def psql(self, sql: str, user: str = "postgres") -> str:
        result = self.run_psql(sql, user)
        assert result.returncode == 0, f"psql -U {user} -c {sql!r} failed: {result.stderr}"
        return result.stdout.strip()

    def container_health(self) -> dict[str, str]:
        """Each service's container: its health, or its state when it has no healthcheck."""
        listing = self.compose("ps", "--all", "--format", "json").stdout
        containers = [json.loads(line) for line in listing.splitlines() if line.strip()]
        return {
            container["Service"]: container.get("Health") or container["State"]
            for container in containers
        }

    def container_address(self, service: str) -> str:
        (container_id,) = self.compose("ps", "-q", service).stdout.split()
        inspected = subprocess.run(
            ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", container_id],
            capture_output=True,
            text=True,
            check=True,
        )
        (network,) = json.loads(inspected.stdout).values()
        return str(network["IPAddress"])


def compose_binary() -> list[str]:
    # run.sh names the Compose binary it installed, or the `docker compose` plugin it found.
    return os.environ["BENCHSYNC_COMPOSE"].split()


def wait_for(what: str, check: Callable[[], bool], stack: Stack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{stack.logs()}")
        time.sleep(2)


def copy_build_inputs(directory: Path) -> None:
    for name in BUILD_INPUTS:
        source = REPO / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(source, directory / name, ignore=ignore)
        else:
            shutil.copy2(source, directory / name)


def write_throwaway_secrets(directory: Path) -> str:
    database_password = secrets.token_urlsafe(18)
    (directory / ".database_password").write_text(database_password)
    (directory / ".client_secret").write_text(secrets.token_urlsafe(18))
    (directory / ".env").write_text("".join(f"{k}={v}\n" for k, v in DOTENV.items()))
    # The containers' users (benchsync's 10001, postgres) read the bind-mounted secret files.
    for name in (".database_password", ".client_secret"):
        (directory / name).chmod(0o644)
    return database_password


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("compose")
    copy_build_inputs(directory)
    password = write_throwaway_secrets(directory)
    command = [*compose_binary(), "-p", PROJECT, "-f", "docker-compose.yaml", "-f", OVERRIDE]
    stack = Stack(directory, command, password)
    stack.compose("config", "--quiet")
    # Left over from an interrupted run: its volumes would skip the first-start init.
    stack.compose("down", "--volumes", "--remove-orphans")
    try:
        stack.compose("build")
        stack.compose("up", "--detach", *SERVICES)
        wait_for(
            "every service healthy",
            lambda: all(stack.container_health().get(service) == "healthy" for service in SERVICES),
            stack,
            HEALTHY_TIMEOUT_SECONDS,
        )
        yield stack
    finally:
        print(stack.logs(tail=80))
        stack.compose("down", "--volumes", "--remove-orphans")


def register(count: int) -> list[str]:
    """Registers ``count`` custom entities in the emulator; their webhooks follow."""
    response = httpx.post(f"{EMULATOR_URL}/_emulator/register", json={"count": count}, timeout=30)
    response.raise_for_status()
    ids: list[str] = response.json()["ids"]
    return ids


def synced_ids(stack: Stack, entity_ids: list[str]) -> set[str]:
    assert all(ENTITY_ID.fullmatch(entity_id) for entity_id in entity_ids), entity_ids
    quoted = ", ".join(f"'{entity_id}'" for entity_id in entity_ids)
    table = "synced_benchling_data"
    sql = f"SELECT benchling_api_id FROM {table} WHERE benchling_api_id IN ({quoted})"  # noqa: S608
    rows = stack.psql(sql)  # S608: the ids were checked above, nothing to inject
    return set(rows.split())


def wait_until_synced(stack: Stack, entity_ids: list[str]) -> None:
    wait_for(
        f"{len(entity_ids)} entities in synced_benchling_data",
        lambda: synced_ids(stack, entity_ids) == set(entity_ids),
        stack,
        SYNC_TIMEOUT_SECONDS,
    )


def test_the_bridge_and_the_dagster_ui_answer(stack: Stack) -> None:
    health = httpx.get("http://localhost:8000/health", timeout=10)
    assert (health.status_code, health.text.strip()) == (200, "OK")
    assert httpx.get("http://localhost:3000/server_info", timeout=10).status_code == 200


def test_registered_entities_reach_synced_benchling_data(stack: Stack) -> None:
    wait_until_synced(stack, register(5))


def test_the_bridge_connects_as_the_least_privileged_role(stack: Stack) -> None:
    bridge_address = ipaddress.ip_address(stack.container_address("bridge"))
    connections = f"FROM pg_stat_activity WHERE client_addr = '{bridge_address}'"
    users = stack.psql(f"SELECT DISTINCT usename {connections} AND datname = 'benchling'")
    assert users.split() == ["benchsync_bridge"]
    # It may record webhooks, and nothing else: not even read what the sync wrote.
    denied = stack.run_psql("SELECT count(*) FROM synced_benchling_data", "benchsync_bridge")
    assert denied.returncode != 0
    assert "permission denied" in denied.stderr


def test_restarting_the_bridge_and_the_daemon_loses_nothing(stack: Stack) -> None:
    before = register(5)
    stack.compose("restart", "bridge", "dagster-daemon")
    # Registered while the two start again: the emulator redelivers what the bridge missed.
    during = register(5)
    wait_for(
        "the bridge and the daemon healthy again",
        lambda: all(
            stack.container_health().get(service) == "healthy"
            for service in ("bridge", "dagster-daemon")
        ),
        stack,
        HEALTHY_TIMEOUT_SECONDS,
    )
    after = register(5)
    wait_until_synced(stack, before + during + after)


def test_the_inbox_ends_with_nothing_pending_or_dead(stack: Stack) -> None:
    def states() -> dict[str, int]:
        rows = stack.psql("SELECT state, count(*) FROM benchsync.inbox GROUP BY 1")
        return {state: int(count) for state, count in (row.split("|") for row in rows.split())}

    wait_for("no pending webhooks", lambda: "pending" not in states(), stack, 60)
    final = states()
    assert "dead" not in final, final
    assert final.get("synced", 0) >= 20, final

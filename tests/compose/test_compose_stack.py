"""docker-compose.yaml run for real (`make compose-test`): the stack, with the Benchling emulator
standing in for the tenant (deploy/compose-test/docker-compose.emulator.yaml), syncs registered
entities into ``synced_benchling_data``, and a restart of the bridge and the daemon loses none.
It also holds what a deployment must (issue 26): the UI and Postgres published on the loopback
only, each container holding the password of its own role and offering it to its own server only,
the Dagster side no superuser, and the bridge answering while slow clients hold connections.

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
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.timeout(900)

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
    "benchsync_core",
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
# The stack's Postgres through its published port, without the user and database.
PSQL = ("psql", "-h", "localhost", "-p", "5438")
SUPERUSER, OWNER, BRIDGE = "postgres", "benchsync_owner", "benchsync_bridge"
# Each role's password file, as the README has users create them.
PASSWORD_FILES = {
    SUPERUSER: ".database_password",
    OWNER: ".benchsync_database_password",
    BRIDGE: ".bridge_database_password",
}
DAGSTER_SERVICES = ("dagster-code", "dagster-webserver", "dagster-daemon")
# Run inside a container (through its entrypoint, as its own processes are): tries each named
# libpq connection string and prints, as JSON, whom it connected as or libpq's error.
LOGIN_PROBE = """
import json, sys
import psycopg
results = {}
for name, conninfo in json.loads(sys.argv[1]).items():
    try:
        with psycopg.connect(conninfo, connect_timeout=10) as connection:
            (user,) = connection.execute("SELECT current_user").fetchone()
            results[name] = "connected as " + user
    except psycopg.OperationalError as error:
        results[name] = str(error)
print(json.dumps(results))
"""
# Slow clients: each sends the start of a request and then nothing, holding its connection.
SLOW_CLIENTS = 32
SLOW_REQUEST_START = b"POST /1/webhooks HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n"
# How long a request may go unanswered while they hold on before the bridge counts as stalled:
# a sync worker holds a slow client until its 30 s timeout.
STALLED_AFTER_SECONDS = 10
# What an id from the emulator looks like: safe to quote into SQL.
ENTITY_ID = re.compile(r"[A-Za-z0-9_]+")
HEALTHY_TIMEOUT_SECONDS = 420
SYNC_TIMEOUT_SECONDS = 180


@dataclass
class Stack:
    directory: Path
    compose_command: list[str]
    passwords: dict[str, str]

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

    def run_psql(
        self, sql: str, user: str = SUPERUSER, database: str = "benchling"
    ) -> subprocess.CompletedProcess[str]:
        """``psql -h localhost -p 5438 -U USER -d benchling``, as the README has users run it,
        with the user's own password."""
        return subprocess.run(
            [*PSQL, "-U", user, "-d", database, "-XAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PGPASSWORD": self.passwords[user], "PGCONNECT_TIMEOUT": "10"},
        )

    def psql(self, sql: str, user: str = SUPERUSER, database: str = "benchling") -> str:
        result = self.run_psql(sql, user, database)
        assert result.returncode == 0, f"psql -U {user} -c {sql!r} failed: {result.stderr}"
        return result.stdout.strip()

    def run_in(self, service: str, *command: str) -> str:
        """``docker compose exec SERVICE COMMAND`` through the image's entrypoint (as the
        service's own processes run), for its output."""
        return self.compose("exec", "-T", service, "benchsync-entrypoint", *command).stdout

    def try_logins(self, service: str, conninfos: dict[str, str]) -> dict[str, str]:
        """Each connection string tried inside ``service``: whom it connected as, or why not."""
        found: dict[str, str] = json.loads(
            self.run_in(service, "python", "-c", LOGIN_PROBE, json.dumps(conninfos))
        )
        return found

    def container_health(self) -> dict[str, str]:
        """Each service's container: its health, or its state when it has no healthcheck."""
        listing = self.compose("ps", "--all", "--format", "json").stdout
        containers = [json.loads(line) for line in listing.splitlines() if line.strip()]
        return {
            container["Service"]: container.get("Health") or container["State"]
            for container in containers
        }

    def container_network(self, service: str) -> dict[str, str]:
        """The container's one network: its ``IPAddress``, and the host's ``Gateway`` there."""
        (container_id,) = self.compose("ps", "-q", service).stdout.split()
        inspected = subprocess.run(
            ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", container_id],
            capture_output=True,
            text=True,
            check=True,
        )
        (network,) = json.loads(inspected.stdout).values()
        return {"IPAddress": str(network["IPAddress"]), "Gateway": str(network["Gateway"])}

    def container_address(self, service: str) -> str:
        return self.container_network(service)["IPAddress"]

    def published_address(self, service: str, port: int) -> str:
        """Where the host publishes the service's ``port`` (``docker compose port``)."""
        return self.compose("port", service, str(port)).stdout.strip()


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


def write_throwaway_secrets(directory: Path) -> dict[str, str]:
    """The secret files and .env the README has users create; each role's password."""
    passwords = {role: secrets.token_hex(24) for role in PASSWORD_FILES}
    files = {PASSWORD_FILES[role]: password + "\n" for role, password in passwords.items()}
    files[".client_secret"] = secrets.token_urlsafe(18)
    for name, content in files.items():
        (directory / name).write_text(content)
        # The containers' users (benchsync's 10001, postgres) read the bind-mounted secret files.
        (directory / name).chmod(0o644)
    (directory / ".env").write_text("".join(f"{k}={v}\n" for k, v in DOTENV.items()))
    return passwords


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("compose")
    copy_build_inputs(directory)
    passwords = write_throwaway_secrets(directory)
    command = [*compose_binary(), "-p", PROJECT, "-f", "docker-compose.yaml", "-f", OVERRIDE]
    stack = Stack(directory, command, passwords)
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
    assert users.split() == [BRIDGE]
    # It may record webhooks, and nothing else: not even read what the sync wrote.
    denied = stack.run_psql("SELECT count(*) FROM synced_benchling_data", BRIDGE)
    assert denied.returncode != 0
    assert "permission denied" in denied.stderr


def test_the_ui_and_postgres_are_published_on_the_hosts_loopback_only(stack: Stack) -> None:
    assert stack.published_address("dagster-webserver", 3000) == "127.0.0.1:3000"
    assert stack.published_address("postgres", 5432) == "127.0.0.1:5438"
    assert stack.published_address("bridge", 8000) == "0.0.0.0:8000"
    # The host's address on the compose network: not loopback, so refused there; the bridge,
    # published on every interface, answers on it.
    host_address = stack.container_network("bridge")["Gateway"]
    assert not ipaddress.ip_address(host_address).is_loopback
    health = httpx.get(f"http://{host_address}:8000/health", timeout=10)
    assert health.status_code == 200
    for port in (3000, 5438):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host_address, port), timeout=10).close()


def test_the_bridge_container_can_log_in_as_no_role_but_its_own(stack: Stack) -> None:
    assert stack.compose("exec", "-T", "bridge", "ls", "/run/secrets").stdout.split() == [
        "bridge_database_password"
    ]
    passfile = stack.run_in("bridge", "sh", "-c", 'cat "$PGPASSFILE"')
    assert passfile == f"postgres:5432:benchling:{BRIDGE}:{stack.passwords[BRIDGE]}\n"

    server = "host=postgres port=5432"
    bridge_password = stack.passwords[BRIDGE]
    attempts = {
        f"{role} {database} {how}": f"{server} dbname={database} user={role}{extra}"
        for role in (SUPERUSER, OWNER)
        for database in ("benchling", "dagster", "postgres")
        # Through the passfile, as code run in the bridge would; or with the password it holds.
        for how, extra in (("passfile", ""), ("bridge password", f" password={bridge_password}"))
    }
    results = stack.try_logins(
        "bridge",
        {
            **attempts,
            "own": f"{server} dbname=benchling user={BRIDGE}",
            # Its password is right there, but the dagster database is not open to it.
            "own into dagster": f"{server} dbname=dagster user={BRIDGE} password={bridge_password}",
        },
    )

    assert results.pop("own") == f"connected as {BRIDGE}"
    assert "permission denied for database" in results.pop("own into dagster")
    for attempt, result in results.items():
        assert "no password supplied" in result or "password authentication failed" in result, (
            attempt,
            result,
        )


def test_the_dagster_side_runs_as_the_owner_which_is_no_superuser(stack: Stack) -> None:
    superuser = stack.psql("SELECT rolsuper FROM pg_roles WHERE rolname = 'benchsync_owner'")
    assert superuser == "f"
    for service in DAGSTER_SERVICES:
        mounted = stack.compose("exec", "-T", service, "ls", "/run/secrets").stdout.split()
        assert [name for name in mounted if name != "client_secret"] == [
            "benchsync_database_password"
        ], service
    owners = stack.psql(
        "SELECT DISTINCT pg_get_userbyid(nspowner) FROM pg_namespace"
        " WHERE nspname IN ('benchsync', 'benchling')"
        " UNION SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class"
        " WHERE relname IN ('synced_benchling_data', 'benchling_entity_snapshots')"
        " UNION SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'dagster'"
    )
    assert owners.split() == [OWNER]
    # Dagster made its tables at startup: as the owner, then.
    dagster_owners = stack.psql(
        "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
        database="dagster",
    )
    assert dagster_owners.split() == [OWNER]


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


def test_the_code_servers_password_goes_to_its_own_databases_only(stack: Stack) -> None:
    """Run config that pointed a connection elsewhere would find no password to send."""
    own = f"host=postgres port=5432 user={OWNER}"
    postgres_address = stack.container_address("postgres")
    results = stack.try_logins(
        "dagster-code",
        {
            "benchling": f"{own} dbname=benchling",
            "dagster": f"{own} dbname=dagster",
            "another database": f"{own} dbname=postgres",
            # The same server under another name is another host to libpq.
            "the server by its address": f"host={postgres_address} port=5432 user={OWNER}"
            " dbname=benchling",
            "another role": f"host=postgres port=5432 user={SUPERUSER} dbname=benchling",
        },
    )

    assert results.pop("benchling") == results.pop("dagster") == f"connected as {OWNER}"
    for attempt, result in results.items():
        assert "no password supplied" in result, (attempt, result)


def held_slow_clients(count: int) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", 8000), timeout=10)
        client.sendall(SLOW_REQUEST_START)
        clients.append(client)
    return clients


def emulator_stats() -> dict[str, int]:
    stats: dict[str, int] = httpx.get(f"{EMULATOR_URL}/_emulator/stats", timeout=30).json()
    return stats


def test_slow_clients_on_the_published_port_stall_neither_health_nor_webhooks(
    stack: Stack,
) -> None:
    wait_for("no webhook in flight", lambda: emulator_stats()["webhooks_pending"] == 0, stack, 120)
    before = emulator_stats()
    clients = held_slow_clients(SLOW_CLIENTS)
    try:
        try:
            health = httpx.get("http://127.0.0.1:8000/health", timeout=STALLED_AFTER_SECONDS)
        except httpx.TimeoutException:
            pytest.fail(f"/health stalled behind {SLOW_CLIENTS} slow clients")
        assert (health.status_code, health.text.strip()) == (200, "OK")
        # Delivered by the emulator, which gives up on an answer after Benchling's 3 s and
        # counts the attempt failed.
        entity_ids = register(1)
        wait_for(
            "the webhooks delivered",
            lambda: emulator_stats()["webhooks_pending"] == 0,
            stack,
            120,
        )
        after = emulator_stats()
        assert after["webhooks_delivered"] > before["webhooks_delivered"]
        assert after["webhook_attempts_failed"] == before["webhook_attempts_failed"], (
            "a webhook went unacknowledged within 3 s while slow clients held connections"
        )
    finally:
        for client in clients:
            client.close()
    wait_until_synced(stack, entity_ids)

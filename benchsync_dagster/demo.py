"""``benchsync demo``: the whole stack on this machine, with nothing but Python.

An embedded Postgres (unless ``BENCHSYNC_DATABASE_URL`` is set), the Benchling emulator, the
bridge and Dagster (webserver + daemon, via ``dagster dev``) with this project's instance
settings. It registers entities in the emulator, shows them flow into Postgres, and prints a
summary. Everything it starts lives under ``.benchsync/`` and stops with it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from benchling_emulator.server import EmulatorServer
from benchling_emulator.settings import EmulatorSettings
from benchsync_dagster import database
from benchsync_dagster.storage import snapshots, synced_data
from webhook_sensor_bridge import inbox

DEMO_HOME = Path(".benchsync")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAGSTER_DATABASE = "dagster"


class DemoError(RuntimeError):
    """Something stopped the demo; the message says what and where to look."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--entities", type=int, default=200, help="entities to register (default %(default)s)")
    add("--exit-when-synced", action="store_true", help="stop once all are synced, exit 0")
    add("--timeout", type=float, default=600, help="seconds to wait for the sync (default 600)")
    add("--bridge-port", type=int, default=8000)
    add("--dagster-port", type=int, default=3000)
    add("--emulator-port", type=int, default=8900)
    add("--rate-limit", type=int, default=60, help="the emulated tenant's requests per 30 s")


@dataclass(frozen=True)
class Child:
    """A process the demo started, with its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise DemoError(f"{self.name} exited with code {code}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(f"    {line}" for line in text) + f"\n  (full log: {self.log_path})"

    def stop(self) -> None:
        # Each child leads its own process group: dagster dev and gunicorn have children too.
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        # What outlives the leader is killed: dagster dev was seen to leave a code server behind
        # (one started while it shut down), which then ran on with nobody to stop it.
        self._signal_group(signal.SIGKILL)
        self.process.wait()

    def _signal_group(self, signal_number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal_number)


def _check_port_free(port: int, flag: str) -> None:
    with socket.socket() as probe:
        # As the servers themselves do, so a port lingering in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(f"port {port} is in use; choose another with {flag}") from None


def _wait_for_http(url: str, child: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        child.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise DemoError(
        f"{child.name} did not answer {url} within {timeout:.0f} s:\n{child.log_tail()}"
    )


def _dagster_database_url(database_url: str, embedded: bool) -> str:
    """Dagster's storage: DAGSTER_POSTGRES_URL, or its own database beside ours when embedded."""
    explicit = os.environ.get("DAGSTER_POSTGRES_URL", "").strip()
    if explicit:
        return explicit
    if not embedded:
        # Dagster's tables do not collide with ours (our migration versions live in benchsync).
        return dagster_storage_url(database_url)
    with psycopg.connect(database_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DAGSTER_DATABASE]
        ).fetchone()
        if not exists:
            create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DAGSTER_DATABASE))
            connection.execute(create)
    return dagster_storage_url(make_conninfo(database_url, dbname=DAGSTER_DATABASE))


def dagster_storage_url(conninfo: str) -> str:
    """A URL for dagster-postgres from any libpq connection string.

    Dagster's storage SQL needs the psycopg2 driver; a bare postgresql:// URL would pick psycopg 3
    under SQLAlchemy 2.1 and fail on its first query.
    """
    parts = conninfo_to_dict(conninfo)
    user = quote(str(parts.get("user", "")))
    password = parts.get("password")
    credentials = f"{user}:{quote(str(password))}" if password else user
    host = str(parts.get("host", ""))
    dbname = quote(str(parts.get("dbname", "")))
    port = parts.get("port")
    if host.startswith("/"):  # a unix socket directory goes in the query string
        return f"postgresql+psycopg2://{credentials}@/{dbname}?host={quote(host)}"
    return f"postgresql+psycopg2://{credentials}@{host}{f':{port}' if port else ''}/{dbname}"


class Stack:
    """The running demo: database, emulator, bridge and Dagster, stopped together."""

    def __init__(self, options: argparse.Namespace, home: Path = DEMO_HOME) -> None:
        self.options = options
        self.home = home.resolve()
        self.children: list[Child] = []
        self.emulator: EmulatorServer | None = None
        self.database_url = ""
        self.dagster_home = self.home / "dagster_home"
        # What the children are told on top of this process's environment.
        self.environment: dict[str, str] = {}

    @classmethod
    def on_free_ports(cls, home: Path, rate_limit: int = 60) -> Stack:
        """A stack that cannot clash with a running demo: tests and benchmarks use this."""
        ports = {}
        for name in ("bridge_port", "dagster_port", "emulator_port"):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                ports[name] = probe.getsockname()[1]
        return cls(argparse.Namespace(**ports, rate_limit=rate_limit), home=home)

    @property
    def bridge_url(self) -> str:
        return f"http://127.0.0.1:{self.options.bridge_port}"

    @property
    def dagster_url(self) -> str:
        return f"http://127.0.0.1:{self.options.dagster_port}"

    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _start(self) -> None:
        for port, flag in (
            (self.options.bridge_port, "--bridge-port"),
            (self.options.dagster_port, "--dagster-port"),
            (self.options.emulator_port, "--emulator-port"),
        ):
            _check_port_free(port, flag)
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        configured = database.database_url_from_env()
        self.database_url = configured or database.start_embedded_postgres(self.home / "postgres")
        database.upgrade(self.database_url)
        dagster_database_url = _dagster_database_url(self.database_url, embedded=not configured)

        self.emulator = EmulatorServer(
            EmulatorSettings(
                port=self.options.emulator_port,
                rate_limit=self.options.rate_limit,
                webhook_urls=(f"{self.bridge_url}/1/webhooks",),
            )
        )
        self.dagster_home.mkdir(exist_ok=True)
        shutil.copy(PROJECT_ROOT / "dagster.yaml", self.dagster_home / "dagster.yaml")
        self.environment = {
            **self.emulator.environment(),
            "BENCHSYNC_DATABASE_URL": self.database_url,
            "DAGSTER_POSTGRES_URL": dagster_database_url,
            "DAGSTER_HOME": str(self.dagster_home),
        }
        scripts = Path(sys.executable).parent
        bridge = self._spawn(
            "bridge",
            [str(scripts / "benchsync"), "bridge", "--port", str(self.options.bridge_port)],
        )
        dagster = self._spawn(
            "dagster",
            [
                str(scripts / "dagster"),
                "dev",
                "-m",
                "benchsync_dagster",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.options.dagster_port),
            ],
        )
        _wait_for_http(f"{self.bridge_url}/health", bridge, timeout=30)
        _wait_for_http(f"{self.dagster_url}/server_info", dagster, timeout=120)

    def _spawn(self, name: str, command: list[str]) -> Child:
        log_path = self.home / "logs" / f"{name}.log"
        # The child writes to its own copy of the file descriptor; ours closes at once.
        try:
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    command,
                    cwd=PROJECT_ROOT,
                    env={**os.environ, **self.environment},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except FileNotFoundError:
            raise DemoError(
                f"{command[0]} is missing: install benchsync first (`make install`)"
            ) from None
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def check_children(self) -> None:
        for child in self.children:
            child.check_alive()

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None


@dataclass(frozen=True)
class Progress:
    received: int
    synced: int
    dead: int

    def render(self, expected: int, width: int = 30) -> str:
        done = self.synced + self.dead
        filled = int(width * done / expected) if expected else width
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] events received {self.received}/{expected}"
            f"  rows synced {self.synced}/{expected}  dead letters {self.dead}"
        )


def _progress(database_url: str, entity_ids: list[str]) -> Progress:
    with psycopg.connect(database_url) as connection:
        counts = inbox.count_by_state(connection, entity_ids)
    return Progress(received=counts.total, synced=counts.synced, dead=counts.dead)


def wait_until_synced(stack: Stack, entity_ids: list[str], timeout: float) -> Progress:
    """Show progress until every entity's event is synced or dead-lettered."""
    interactive = sys.stdout.isatty()
    deadline = time.monotonic() + timeout
    last_printed = 0.0
    while True:
        stack.check_children()
        progress = _progress(stack.database_url, entity_ids)
        finished = progress.received >= len(entity_ids) and (
            progress.synced + progress.dead >= progress.received
        )
        if interactive:
            print(f"\r{progress.render(len(entity_ids))}", end="", flush=True)
        elif finished or time.monotonic() - last_printed >= 5:
            print(progress.render(len(entity_ids)), flush=True)
            last_printed = time.monotonic()
        if finished:
            if interactive:
                print()
            return progress
        if time.monotonic() > deadline:
            print()
            raise DemoError(
                f"not synced within {timeout:.0f} s ({progress.render(len(entity_ids))});"
                f" see the runs at {stack.dagster_url}/runs and the logs in {stack.home / 'logs'}"
            )
        time.sleep(0.5)


@contextlib.contextmanager
def _environ(overrides: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(overrides)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _sync_runs(stack: Stack, since: datetime) -> dict[str, int]:
    import dagster as dg

    from benchsync_dagster.orchestration.sync.sensors import ATTEMPT_TAG

    # The instance's dagster.yaml reads DAGSTER_POSTGRES_URL from the environment.
    with (
        _environ(stack.environment),
        dg.DagsterInstance.from_config(str(stack.dagster_home)) as instance,
    ):
        runs = instance.get_runs(dg.RunsFilter(job_name="sync_job", created_after=since))
    return {
        "runs": len(runs),
        "failed runs": sum(run.status == dg.DagsterRunStatus.FAILURE for run in runs),
        "retried batches": sum(int(run.tags.get(ATTEMPT_TAG, "1")) > 1 for run in runs),
    }


def summary(stack: Stack, entity_ids: list[str], progress: Progress, started: datetime) -> str:
    with psycopg.connect(stack.database_url) as connection:
        p50, p95 = inbox.sync_latency_percentiles(connection, entity_ids, [0.5, 0.95])
        rows = {
            synced_data.TABLE: synced_data.row_count(connection),
            snapshots.TABLE: snapshots.row_count(connection),
        }
    lines: list[tuple[str, Any]] = [
        ("entities registered", len(entity_ids)),
        ("events received", progress.received),
        ("events synced", progress.synced),
        ("dead letters", progress.dead),
        *_sync_runs(stack, started).items(),
        *((f"rows in {table}", count) for table, count in rows.items()),
        ("webhook → row p50", _seconds(p50)),
        ("webhook → row p95", _seconds(p95)),
        ("Dagster UI", stack.dagster_url),
        ("psql", f"psql '{without_password(stack.database_url)}'"),
    ]
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in lines)


def without_password(database_url: str) -> str:
    """The URL to show a person: a password in it never reaches the terminal."""
    parts = conninfo_to_dict(database_url)
    if not parts.pop("password", None):
        return database_url
    return make_conninfo("", **parts)  # psql then asks for it, or reads ~/.pgpass


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


@contextlib.contextmanager
def _interrupted_cleanly() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop the demo and its children, even when it was started in the
    background (where a shell leaves SIGINT ignored)."""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, signal.default_int_handler) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run(options: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    try:
        with _interrupted_cleanly(), Stack(options) as stack:
            print(f"benchsync demo: Dagster UI at {stack.dagster_url}; logs in {stack.home}/logs")
            assert stack.emulator is not None
            entity_ids = stack.emulator.tenant.create_registered(options.entities)
            print(f"registered {len(entity_ids)} entities in the Benchling emulator")
            progress = wait_until_synced(stack, entity_ids, options.timeout)
            print(summary(stack, entity_ids, progress, started))
            if options.exit_when_synced:
                return 0
            print("Everything stays up until Ctrl-C.", flush=True)
            while True:
                stack.check_children()
                time.sleep(1)
    except DemoError as error:
        print(f"benchsync demo: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbenchsync demo: stopped", file=sys.stderr)
        return 0

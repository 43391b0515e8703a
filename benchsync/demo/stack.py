"""The running demo: database, emulator, bridge and Dagster (``dagster dev``), stopped together.

The end-to-end tests and the benchmarks run the same stack, on free ports.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from benchling_emulator.server import EmulatorServer
from benchling_emulator.settings import EmulatorSettings
from benchsync.demo.databases import DAGSTER_URL_VARIABLE, dagster_database_url
from benchsync.demo.processes import Child, check_port_free, free_port, spawn, wait_for_http
from benchsync_core import migrations, settings
from benchsync_core.database import start_embedded_postgres
from benchsync_dagster.defs.typed.sensors import WEBSERVER_URL_VARIABLE

DEMO_HOME = Path(".benchsync")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(sys.executable).parent


RATE_LIMIT_VARIABLE = "BENCHSYNC_BENCHLING_RATE_LIMIT"


class Stack:
    """The running demo: database, emulator, bridge and Dagster, stopped together."""

    def __init__(self, options: argparse.Namespace, home: Path = DEMO_HOME) -> None:
        self.options = options
        self.home = home.resolve()
        self.children: list[Child] = []
        self._starts: Counter[str] = Counter()  # how often each child was started
        self.emulator: EmulatorServer | None = None
        self.database_url = ""
        self.dagster_home = self.home / "dagster_home"
        # What the children are told on top of this process's environment.
        self.environment: dict[str, str] = {}

    @classmethod
    def on_free_ports(
        cls, home: Path, rate_limit: int = 60, webhook_rate: float = EmulatorSettings.webhook_rate
    ) -> Stack:
        """A stack that cannot clash with a running demo: tests and benchmarks use this."""
        ports = {name: free_port() for name in ("bridge_port", "dagster_port", "emulator_port")}
        options = argparse.Namespace(
            **ports,
            rate_limit=rate_limit,
            webhook_rate=webhook_rate,
            event_envelope=EmulatorSettings.event_envelope,
        )
        return cls(options, home=home)

    @property
    def bridge_url(self) -> str:
        return f"http://127.0.0.1:{self.options.bridge_port}"

    @property
    def dagster_url(self) -> str:
        return f"http://127.0.0.1:{self.options.dagster_port}"

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The ``data`` of a query to the Dagster webserver's GraphQL API, as the UI asks it."""
        response = httpx.post(
            f"{self.dagster_url}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["data"]

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
            check_port_free(port, flag)
        (self.home / "logs").mkdir(parents=True, exist_ok=True)
        configured = settings.optional(settings.DATABASE_URL_VARIABLE)
        self.database_url = configured or start_embedded_postgres(self.home / "postgres")
        migrations.upgrade(self.database_url)
        dagster_url = dagster_database_url(self.database_url, embedded=not configured)

        self.emulator = EmulatorServer(
            EmulatorSettings(
                port=self.options.emulator_port,
                rate_limit=self.options.rate_limit,
                webhook_urls=(f"{self.bridge_url}/1/webhooks",),
                webhook_rate=self.options.webhook_rate,
                event_envelope=self.options.event_envelope,
            )
        )
        self.dagster_home.mkdir(exist_ok=True)
        shutil.copy(PROJECT_ROOT / "dagster.yaml", self.dagster_home / "dagster.yaml")
        self.environment = {
            **self.emulator.environment(),
            settings.DATABASE_URL_VARIABLE: self.database_url,
            WEBSERVER_URL_VARIABLE: self.dagster_url,
            DAGSTER_URL_VARIABLE: dagster_url,
            "DAGSTER_HOME": str(self.dagster_home),
            # The sync paces itself to the emulated tenant's limit, unless told another one.
            RATE_LIMIT_VARIABLE: settings.optional(RATE_LIMIT_VARIABLE)
            or str(self.options.rate_limit),
        }
        bridge = self._spawn_bridge()
        self.start_dagster()
        wait_for_http(f"{self.bridge_url}/health", bridge, timeout=30)

    def restart_bridge(self) -> Child:
        """The bridge started again on its port, once it answers, as after a crash: what is
        left of the old one's process group (gunicorn's master and workers) is killed first."""
        for old in [child for child in self.children if child.name == "bridge"]:
            old.kill()
            self.children.remove(old)
        bridge = self._spawn_bridge()
        wait_for_http(f"{self.bridge_url}/health", bridge, timeout=30)
        return bridge

    def _spawn_bridge(self) -> Child:
        return self._spawn(
            "bridge",
            [str(SCRIPTS / "benchsync"), "bridge", "--port", str(self.options.bridge_port)],
        )

    def start_dagster(self) -> Child:
        """``dagster dev`` (webserver, daemon, code server) on this stack's instance, once its UI
        answers; started again after a crash, it finds the runs the last one left."""
        dagster = self._spawn(
            "dagster",
            [
                str(SCRIPTS / "dagster"),
                "dev",
                "-w",
                str(PROJECT_ROOT / "workspace.yaml"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.options.dagster_port),
            ],
        )
        wait_for_http(f"{self.dagster_url}/server_info", dagster, timeout=120)
        return dagster

    def _spawn(self, name: str, command: list[str]) -> Child:
        self._starts[name] += 1
        # Started again (after a crash): a file of its own, so the log of the one before stays.
        again = f".{self._starts[name]}" if self._starts[name] > 1 else ""
        log_path = self.home / "logs" / f"{name}{again}.log"
        child = spawn(name, command, log_path, cwd=PROJECT_ROOT, environment=self.environment)
        self.children.append(child)
        return child

    def child(self, name: str) -> Child:
        """The running child called ``name`` (``bridge``, ``dagster``)."""
        (found,) = [child for child in self.children if child.name == name]
        return found

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

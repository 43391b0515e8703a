"""The processes the demo starts: each in its own process group, its output in a log file."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


class DemoError(RuntimeError):
    """Something stopped the demo; the message says what and where to look."""


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
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group at once, as a crash or the OOM killer would."""
        self._signal_group(signal.SIGKILL)
        self.process.wait()

    def _signal_group(self, signal_number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal_number)


def spawn(
    name: str, command: list[str], log_path: Path, cwd: Path, environment: dict[str, str]
) -> Child:
    """Start ``command`` with ``environment`` on top of this process's, logging to ``log_path``."""
    # The child writes to its own copy of the file descriptor; ours closes at once.
    try:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env={**os.environ, **environment},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except FileNotFoundError:
        raise DemoError(
            f"{command[0]} is missing: install benchsync first (`make install`)"
        ) from None
    return Child(name, process, log_path)


def check_port_free(port: int, flag: str) -> None:
    with socket.socket() as probe:
        # As the servers themselves do, so a port lingering in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(f"port {port} is in use; choose another with {flag}") from None


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_http(url: str, child: Child, timeout: float) -> None:
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

"""``benchsync demo``: why it cannot run (busy port, missing program, crash), and its summary."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchsync.cli import main
from benchsync.demo.databases import without_password
from benchsync.demo.processes import Child, DemoError
from benchsync.demo.stack import Stack


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_a_busy_port_is_named_with_the_flag_that_moves_it(
    busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--bridge-port", str(busy_port), "--exit-when-synced"]) == 1

    error = capsys.readouterr().err
    assert f"port {busy_port} is in use" in error
    assert "--bridge-port" in error


def test_a_missing_program_says_how_to_install_it(tmp_path: Path) -> None:
    stack = Stack.on_free_ports(tmp_path)
    (tmp_path / "logs").mkdir()

    with pytest.raises(DemoError, match="is missing: install benchsync"):
        stack._spawn("dagster", [str(tmp_path / "no-such-program")])


def test_a_crashed_child_is_named_with_the_end_of_its_log(tmp_path: Path) -> None:
    log = tmp_path / "bridge.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", "print('cannot bind'); raise SystemExit(3)"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    process.wait()

    with pytest.raises(DemoError, match=r"bridge exited with code 3:\n.*cannot bind"):
        Child("bridge", process, log).check_alive()


def test_the_summary_shows_the_database_without_its_password() -> None:
    shown = without_password("postgresql://sync:s3cret@db.example:5432/benchling")

    assert "s3cret" not in shown
    assert "db.example" in shown and "benchling" in shown


def test_stopping_a_child_leaves_none_of_its_processes_behind(tmp_path: Path) -> None:
    helper_pid = tmp_path / "helper.pid"
    # The leader starts a helper that ignores SIGTERM, as a straggling code server would.
    leader = tmp_path / "leader.py"
    leader.write_text(
        textwrap.dedent(
            f"""
            import signal, subprocess, sys, time
            helper = subprocess.Popen([sys.executable, "-c", "import signal, time; "
                "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
            open({str(helper_pid)!r}, "w").write(str(helper.pid))
            time.sleep(600)
            """
        )
    )
    log = tmp_path / "child.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(leader)], stdout=output, stderr=output, start_new_session=True
        )
    while not helper_pid.exists() or not helper_pid.read_text():
        time.sleep(0.05)

    Child("dagster", process, log).stop()

    assert process.returncode is not None
    assert not running(int(helper_pid.read_text()))


def running(pid: int) -> bool:
    """True while ``pid`` runs; a killed orphan may stay a zombie until init reaps it."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.05)
    return True

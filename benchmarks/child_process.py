"""A benchmark's run in a process of its own, as the run launcher starts one, and its peak
memory. Light on imports: what the child loads is what its peak measures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def peak_rss_kib() -> int:
    """This process's peak RSS since it started: VmHWM, not getrusage's ru_maxrss, which keeps
    the peak of the parent that forked it (here the emulator, holding every entity)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])


def run_child(script: str, flag: str, env: dict[str, str], stdin: str = "") -> dict[str, Any]:
    """``script flag`` in a process of its own with ``env`` added to this one's; the JSON of its
    last line of output (this process exits with the child's errors when it failed)."""
    child = subprocess.run(
        [sys.executable, script, flag],
        input=stdin,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        sys.exit(child.stderr[-4000:])
    report: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return report

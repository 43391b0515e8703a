"""The Dagster UI as a person sees it, rendered by headless Chromium against the running stack."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from benchsync.demo.stack import Stack

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run does)"
)


def rendered(url: str, profile: Path) -> str:
    """The page's DOM once its scripts have run (up to 20 s of virtual time)."""
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # tests run as root here
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        timeout=90,
        check=True,
    )
    return result.stdout.decode()


def test_the_catalog_lists_the_registry_and_the_synced_tables(stack: Stack, tmp_path: Path) -> None:
    # The catalog prints whole names; the lineage graph truncates them, or shows only groups.
    page = rendered(f"{stack.dagster_url}/assets", tmp_path)

    for asset in ("benchling_registry", "benchling_entity_snapshots", "synced_benchling_data"):
        assert asset in page


def test_the_inbox_sensor_is_running(stack: Stack, tmp_path: Path) -> None:
    page = rendered(
        f"{stack.dagster_url}/locations/benchsync_dagster/sensors/inbox_sensor", tmp_path
    )

    assert "inbox_sensor" in page
    assert "Running" in page

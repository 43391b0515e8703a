"""``benchsync bridge`` for real: gunicorn workers over HTTP on loopback."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchling_emulator.server import EmulatorServer
from benchling_emulator.signing import WebhookSigner
from benchsync.demo.processes import free_port
from tests.support.bridge import Bridge, running_bridge
from tests.support.postgres import create_database, drop_database
from tests.support.webhooks import envelope, inbox_row, new_webhook_id
from webhook_sensor_bridge.app import MAX_BODY_BYTES
from webhook_sensor_bridge.server import BridgeServer
from webhook_sensor_bridge.settings import Settings

# What only `benchsync db upgrade` and the Dagster code location load.
HEAVY_PACKAGES = ("dagster", "alembic", "sqlalchemy")


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    """Never migrated."""
    url = create_database(postgres_server_url)
    yield url
    drop_database(postgres_server_url, url)


def imported_packages(log: str) -> set[str]:
    """The top-level packages named by ``python -X importtime`` lines in a log."""
    return {
        line.rpartition("|")[2].strip().split(".")[0]
        for line in log.splitlines()
        if line.startswith("import time:")
    }


@pytest.fixture
def bridge(fresh_inbox_url: str, emulator: EmulatorServer, tmp_path: Path) -> Iterator[Bridge]:
    environment = {
        "BENCHSYNC_DATABASE_URL": fresh_inbox_url,
        "APP_DEFINITION_ID": "appdef_test",
        "BENCHLING_JWKS_URL": emulator.jwks_url,
    }
    with running_bridge(
        environment,
        tmp_path / "bridge.log",
        # Every module any of its processes imports is logged, the workers' included.
        python_options=["-X", "importtime"],
        bridge_options=["--workers", "2"],
    ) as bridge:
        yield bridge


def test_the_bridge_serves_webhooks_under_gunicorn(
    bridge: Bridge, signer: WebhookSigner, fresh_inbox_url: str
) -> None:
    webhook_id = new_webhook_id()
    body = envelope(resourceId="bfi_not_in_logs")
    headers = signer.signed_headers(body, webhook_id)

    assert bridge.request("POST", "/1/webhooks/sub/path", body, headers) == 200
    assert bridge.request("POST", "/1/webhooks", body, headers) == 200  # a redelivery
    assert bridge.request("POST", "/1/webhooks", body + b" ", headers) == 401
    assert bridge.request("POST", "/1/webhooks", body, {**headers, "webhook-id": "x"}) == 401
    assert inbox_row(fresh_inbox_url, webhook_id) is not None

    oversized = b" " * (MAX_BODY_BYTES + 1)
    oversized_headers = signer.signed_headers(oversized)
    assert bridge.request("POST", "/1/webhooks", oversized, oversized_headers) == 413
    assert bridge.request("POST", "/1/webhooks", oversized, oversized_headers, chunked=True) == 413

    time.sleep(0.2)  # let the workers flush their log lines
    log = bridge.log.read_text()
    assert "bfi_not_in_logs" not in log
    assert "Booting worker" in log and "Logging error" not in log  # gunicorn's own lines print
    # Each request is one line holding one JSON object, ready for a log shipper.
    request_lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert len(request_lines) == 6
    ours = [line for line in request_lines if line["webhook_id"] == webhook_id]
    assert [line["outcome"] for line in ours] == ["recorded", "duplicate", "unauthorized"]
    assert all(abs(line["time"] - time.time()) < 60 for line in request_lines)


def test_no_bridge_process_loads_dagster_alembic_or_sqlalchemy(
    bridge: Bridge, signer: WebhookSigner
) -> None:
    body = envelope()
    assert bridge.request("POST", "/1/webhooks", body, signer.signed_headers(body)) == 200
    assert bridge.request("GET", "/health") == 200

    packages = imported_packages(bridge.log.read_text())
    assert {"gunicorn", "flask", "psycopg_pool", "webhook_sensor_bridge"} <= packages
    assert not packages & set(HEAVY_PACKAGES)


def test_importing_the_app_loads_none_of_them() -> None:
    probe = "import sys, webhook_sensor_bridge.app; print(' '.join(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not {name.split(".")[0] for name in loaded} & set(HEAVY_PACKAGES)


def test_on_a_database_never_migrated_it_says_so_and_exits(empty_database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchsync.cli", "bridge", "--port", str(free_port())],
        env={
            **os.environ,
            "BENCHSYNC_DATABASE_URL": empty_database_url,
            "APP_DEFINITION_ID": "appdef_test",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "benchsync db upgrade" in line


def test_workers_are_forked_with_the_masters_objects_frozen() -> None:
    settings = Settings(database_url="postgresql://unused", jwks_url="http://unused/jwks")
    server = BridgeServer(settings, {"bind": "127.0.0.1:0"})
    frozen_before = gc.get_freeze_count()
    try:
        server.cfg.pre_fork(None, None)
        assert gc.get_freeze_count() > frozen_before
    finally:
        gc.unfreeze()

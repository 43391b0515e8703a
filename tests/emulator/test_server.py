"""The server's life cycle, its control endpoints, the command line, and many clients at once."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from benchling_sdk.errors import BenchlingError
from benchling_sdk.models import CustomEntityCreate

from benchling_emulator.clock import TenantClock
from benchling_emulator.entities import EntityQuery
from benchling_emulator.server import EmulatorServer
from benchling_emulator.settings import settings_from_args
from benchsync.cli import build_parser, main
from tests.support.emulator import MakeEmulator, benchling_client


def test_a_rate_flag_outside_0_to_1_is_refused_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["emulator", "--print-env", "--fail-rate", "1.5"])
    assert exited.value.code == 2
    assert "--fail-rate: must be from 0 to 1, not 1.5" in capsys.readouterr().err


def test_print_env_points_benchsync_at_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--print-env", "--port", "8911", "--client-id", "me"]) == 0
    variables = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert variables == {
        "BENCHLING_TENANT_URL": "http://127.0.0.1:8911",
        "CLIENT_ID": "me",
        "CLIENT_SECRET": "emulator-client-secret",
        "APP_DEFINITION_ID": "appdef_emulator01",
        "BENCHLING_APP_ID": "app_emulator0001",
        "BENCHLING_JWKS_URL": "http://127.0.0.1:8911/api/v1/apps/appdef_emulator01/jwks",
    }


def test_benchsync_emulator_serves_until_sigterm() -> None:
    command = [sys.executable, "-m", "benchsync.cli", "emulator", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        base_url = first_line.rsplit(" ", 1)[-1].strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{base_url}/_emulator/stats").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()


def test_a_backlog_does_not_delay_stopping(make_emulator: MakeEmulator) -> None:
    unreachable = "http://127.0.0.1:9/1/webhooks"
    server = make_emulator(webhook_urls=(unreachable,), webhook_rate=50.0)
    started = time.monotonic()
    answer = httpx.post(f"{server.base_url}/_emulator/register", json={"count": 5000})
    assert answer.status_code == 200
    ids = answer.json()["ids"]
    assert len(set(ids)) == 5000
    assert time.monotonic() - started < 3.0  # answered at once; webhooks follow at 50/s
    stats = httpx.get(f"{server.base_url}/_emulator/stats").json()
    assert stats["events_emitted"] == 5000
    assert stats["webhooks_pending"] > 4000

    stopping = time.monotonic()
    server.stop()
    server.stop()  # twice is harmless
    assert time.monotonic() - stopping < 3.0
    workers = [thread for thread in threading.enumerate() if thread.name.startswith("emulator-")]
    assert workers == []


def test_port_zero_picks_a_free_port_per_server(make_emulator: MakeEmulator) -> None:
    first, second = make_emulator(), make_emulator()
    assert first.port != second.port
    assert first.base_url == f"http://127.0.0.1:{first.port}"
    assert first.environment()["BENCHLING_JWKS_URL"] == first.jwks_url
    assert httpx.get(first.jwks_url).json()["keys"][0]["kid"] == first.signer.key_id
    assert httpx.get(f"{first.base_url}/api/v1/apps/appdef_other/jwks").status_code == 404


def test_deleted_entities_vanish(emulator: EmulatorServer) -> None:
    kept, deleted = emulator.tenant.create_registered(2)
    answer = httpx.post(f"{emulator.base_url}/_emulator/delete", json={"ids": [deleted, "bfi_x"]})
    assert answer.json() == {"deleted": [deleted]}
    benchling = benchling_client(emulator)
    with pytest.raises(BenchlingError) as missing:
        benchling.custom_entities.get_by_id(deleted)
    assert missing.value.status_code == 404
    assert [entity.id for page in benchling.custom_entities.list() for entity in page] == [kept]


def test_control_endpoints_refuse_malformed_requests(emulator: EmulatorServer) -> None:
    control = f"{emulator.base_url}/_emulator"
    assert httpx.post(f"{control}/register", json={"count": 0}).status_code == 400
    assert httpx.post(f"{control}/register", content=b"nonsense").status_code == 400
    assert httpx.post(f"{control}/webhook-urls", json={"urls": "x"}).status_code == 400
    unknown = httpx.get(f"{emulator.base_url}/api/v2/nowhere")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "invalid_request_error"


def test_modified_at_strictly_increases_within_one_wall_clock_instant() -> None:
    frozen = datetime(2026, 1, 1, tzinfo=UTC)
    clock = TenantClock(wall_clock=lambda: frozen)
    moments = [clock.now() for _ in range(1000)]
    assert all(earlier < later for earlier, later in itertools.pairwise(moments))


def test_twenty_clients_at_once_get_consistent_answers(emulator: EmulatorServer) -> None:
    existing = emulator.tenant.create_registered(120)
    schema_id, folder_id = emulator.tenant.seed.schema.id, emulator.tenant.seed.folder_id
    start = threading.Barrier(20)

    def client_session(number: int) -> tuple[list[str], str, str]:
        benchling = benchling_client(emulator)
        start.wait()
        listed = [
            entity.id
            for page in benchling.custom_entities.list(
                sort="createdAt:asc", page_size=50, modified_at="< 2100-01-01"
            )
            for entity in page
            if entity.id in existing
        ]
        created = benchling.custom_entities.create(
            CustomEntityCreate(name=f"Client {number}", schema_id=schema_id, folder_id=folder_id)
        )
        fetched = benchling.custom_entities.get_by_id(created.id)
        return listed, created.id, fetched.name

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(client_session, range(20)))

    for number, (listed, _, name) in enumerate(results):
        assert listed == existing
        assert name == f"Client {number}"
    created_ids = {created for _, created, _ in results}
    assert len(created_ids) == 20
    page = emulator.tenant.list_entities(EntityQuery(), page_size=100, next_token=None)
    assert page.total == 140
    stamps = [entity["modifiedAt"] for entity in page.items]
    assert len(set(stamps)) == len(stamps)


def test_the_event_envelope_flag_sets_the_form_of_event_webhooks() -> None:
    parser = build_parser()

    wrapped = parser.parse_args(["emulator", "--event-envelope", "v0-beta"])
    demo = parser.parse_args(["demo", "--event-envelope", "v0-beta"])

    assert settings_from_args(wrapped).event_envelope == "v0-beta"
    assert settings_from_args(parser.parse_args(["emulator"])).event_envelope == "v0"
    assert demo.event_envelope == "v0-beta"
    with pytest.raises(SystemExit):
        parser.parse_args(["emulator", "--event-envelope", "v1"])

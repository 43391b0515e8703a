"""Clients that trickle their requests hold a connection each, not a worker: valid webhooks and
/health are still answered while they do, from ``benchsync bridge`` as a user starts it."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from benchling_emulator.server import EmulatorServer
from benchling_emulator.signing import WebhookSigner
from tests.support.bridge import Bridge, SlowClients, running_bridge
from tests.support.webhooks import envelope, inbox_row, new_webhook_id

SLOW_CONNECTIONS = 32
# Only so that a stalled bridge fails the test instead of hanging it: no bound on speed.
HANG_GUARD_SECONDS = 60.0


def bridge_environment(database_url: str, emulator: EmulatorServer) -> dict[str, str]:
    return {
        "BENCHSYNC_DATABASE_URL": database_url,
        "APP_DEFINITION_ID": "appdef_test",
        "BENCHLING_JWKS_URL": emulator.jwks_url,
    }


def test_webhooks_and_health_are_answered_while_32_slow_clients_hold_connections(
    fresh_inbox_url: str, emulator: EmulatorServer, signer: WebhookSigner, tmp_path: Path
) -> None:
    bodies = [envelope() for _ in range(24)]
    signed = [(body, signer.signed_headers(body, new_webhook_id())) for body in bodies]

    def post(bridge: Bridge, body: bytes, headers: dict[str, str]) -> int:
        return bridge.request("POST", "/1/webhooks", body, headers, timeout=HANG_GUARD_SECONDS)

    def health(bridge: Bridge) -> int:
        return bridge.request("GET", "/health", timeout=HANG_GUARD_SECONDS)

    log = tmp_path / "bridge.log"
    # No option but the port: the worker model and count a user gets.
    with (
        running_bridge(bridge_environment(fresh_inbox_url, emulator), log) as bridge,
        SlowClients(bridge.port, count=SLOW_CONNECTIONS) as slow,
    ):
        slow.wait_until_held()
        with ThreadPoolExecutor(max_workers=8) as senders:
            posted = [senders.submit(post, bridge, body, headers) for body, headers in signed]
            checked = [senders.submit(health, bridge) for _ in range(8)]
            webhook_statuses = [future.result() for future in posted]
            health_statuses = [future.result() for future in checked]
        # The bridge answered all of them without dropping a slow client that had sent its
        # headers: those were held open the whole time.
        closed_while_answering = slow.closed()

    assert webhook_statuses == [200] * len(signed)
    assert health_statuses == [200] * 8
    for _, headers in signed:
        assert inbox_row(fresh_inbox_url, headers["webhook-id"]) is not None
    assert closed_while_answering["body"] == 0
    # Stopped (SIGTERM), each worker closed its pool and exited without a traceback.
    assert log.read_text().count("Worker exiting") >= 2
    assert "Traceback" not in log.read_text()


def test_a_request_waiting_on_postgres_leaves_the_worker_serving(
    fresh_inbox_url: str, emulator: EmulatorServer, signer: WebhookSigner, tmp_path: Path
) -> None:
    """Psycopg's waits are cooperative in the gevent worker: a webhook whose INSERT waits for a
    lock does not hold /health back (psycopg's C wait, or psycopg_pool's locks bound before
    gevent patched them, would block the one worker until the INSERT ended)."""
    environment = bridge_environment(fresh_inbox_url, emulator)
    log = tmp_path / "bridge.log"
    with (
        running_bridge(environment, log, bridge_options=["--workers", "1"]) as bridge,
        psycopg.connect(fresh_inbox_url) as locker,
    ):
        locker.execute("LOCK TABLE benchsync.inbox IN EXCLUSIVE MODE")  # INSERTs wait, SELECTs not
        body = envelope()
        headers = signer.signed_headers(body, new_webhook_id())
        webhook_status: list[int] = []
        webhook_answered = threading.Event()

        def post() -> None:
            webhook_status.append(
                bridge.request("POST", "/1/webhooks", body, headers, timeout=HANG_GUARD_SECONDS)
            )
            webhook_answered.set()

        sender = threading.Thread(target=post)
        sender.start()
        wait_for_insert_waiting_on_lock(fresh_inbox_url)

        health_status = bridge.request("GET", "/health", timeout=HANG_GUARD_SECONDS)
        answered_before_the_webhook = not webhook_answered.is_set()
        locker.commit()  # the INSERT proceeds
        sender.join()

    assert health_status == 200
    assert answered_before_the_webhook, log.read_text()
    assert webhook_status == [200]


def wait_for_insert_waiting_on_lock(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as observer:
        for _ in range(600):
            waiting = observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                " AND query LIKE '%INSERT INTO benchsync.inbox%'"
            ).fetchone()
            if waiting is not None and waiting[0] > 0:
                return
            observer.execute("SELECT pg_sleep(0.05)")
    raise AssertionError("the webhook's INSERT never waited on the lock")


def test_too_late_to_patch_it_patches_nothing_and_the_bridge_refuses_to_serve() -> None:
    probe = (
        "import psycopg\n"
        "from webhook_sensor_bridge import cooperative, server\n"
        "from webhook_sensor_bridge.settings import Settings\n"
        "print(cooperative.patch(), cooperative.is_patched())\n"
        "try:\n"
        "    server.serve(Settings('postgresql://unused', 'http://unused/jwks'), '127.0.0.1', 0)\n"
        "except cooperative.PatchedTooLate as error:\n"
        "    print(error)\n"
    )
    patched, is_patched, refusal = printed_by(probe).split(maxsplit=2)
    assert (patched, is_patched) == ("False", "False")
    assert "before psycopg and psycopg_pool are imported" in refusal


def test_patched_first_psycopg_and_its_pool_wait_cooperatively() -> None:
    probe = (
        "from webhook_sensor_bridge import cooperative\n"
        "cooperative.patch()\n"
        "import psycopg.waiting, psycopg_pool._acompat as pool\n"
        "lock = type(pool.Lock())\n"
        "print(psycopg.waiting.wait.__name__, pool.Event.__module__, lock.__module__)\n"
    )
    wait_function, event_module, lock_module = printed_by(probe).split()
    assert wait_function != "wait_c"  # the C wait blocks the whole process
    assert event_module.startswith("gevent")
    assert lock_module != "_thread"  # the real lock; patched, threading's own on gevent's


def printed_by(probe: str) -> str:
    """What ``probe`` prints, run in a fresh interpreter (patching cannot be undone)."""
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout

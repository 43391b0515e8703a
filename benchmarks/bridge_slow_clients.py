"""Answers while slow clients hold connections open against `benchsync bridge` as a user starts it.

The bridge runs with its default options on a fresh database. In each phase, valid signed
webhooks arrive at a fixed rate (default 100/s; a Benchling burst of 10,000 a minute is ~170/s)
and /health is asked every 100 ms, first with no slow client, then with
``--slow-clients`` (default 32) connections trickling their requests a byte at a time (half never
finish their headers, half send a body that never ends; tests/support/bridge.py). Reported: the
acknowledgement latency of the webhooks (counted from each one's scheduled send time, so a stall
is not hidden) and of /health, as p50, p99 and max; the requests not answered 200 within
``--timeout``; and how many slow connections the bridge closed. Targets: every webhook
acknowledged within 3 s (Benchling abandons a delivery then), /health within 1 s.

Run from the repository root:  .venv/bin/python benchmarks/bridge_slow_clients.py
Needs a Postgres server where it may create a database (BENCH_POSTGRES_URL, default the
machine's postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
# Run as a script: the repository's packages, and bridge_throughput beside this file.
sys.path[:0] = [str(REPOSITORY), str(HERE)]

from bridge_throughput import machine, send_at_rate, sign_webhooks  # noqa: E402

from benchling_emulator.server import EmulatorServer  # noqa: E402
from benchling_emulator.settings import EmulatorSettings  # noqa: E402
from benchsync_core import migrations  # noqa: E402
from tests.support.bridge import SlowClients, running_bridge  # noqa: E402
from tests.support.postgres import LOCAL_SERVER_URL, create_database, drop_database  # noqa: E402
from webhook_sensor_bridge.server import WORKER_CLASS, default_worker_count  # noqa: E402

HEALTH_INTERVAL_SECONDS = 0.1


def poll_health(port: int, stop: threading.Event, timeout: float) -> tuple[list[float], int]:
    """/health's latencies in seconds until ``stop``, and how many were not answered 200."""
    latencies: list[float] = []
    failed = 0
    while not stop.wait(HEALTH_INTERVAL_SECONDS):
        started = time.perf_counter()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            connection.request("GET", "/health")
            ok = connection.getresponse().status == 200
            connection.close()
        except (OSError, http.client.HTTPException):
            ok = False
        latencies.append(time.perf_counter() - started)
        failed += not ok
    return latencies, failed


def measure_phase(
    port: int, emulator: EmulatorServer, slow_clients: int, args: argparse.Namespace
) -> dict[str, float]:
    slow = SlowClients(port, count=slow_clients) if slow_clients else None
    with slow or contextlib.nullcontext():
        if slow is not None:
            slow.wait_until_held()
        webhooks = sign_webhooks(emulator.signer, int(args.rate * args.seconds))
        stop = threading.Event()
        health: list[tuple[list[float], int]] = []
        prober = threading.Thread(
            target=lambda: health.append(poll_health(port, stop, args.timeout))
        )
        prober.start()
        latencies, failed = send_at_rate(port, webhooks, args.rate, args.senders, args.timeout)
        stop.set()
        prober.join()
        closed = slow.closed() if slow is not None else {"head": 0, "body": 0}
    health_latencies, health_failed = health[0]
    return {
        "slow_clients": slow_clients,
        "webhooks": len(latencies),
        **summary("ack", latencies),
        "ack_failed": len(failed),
        "health_checks": len(health_latencies),
        **summary("health", health_latencies),
        "health_failed": health_failed,
        "closed_head": closed["head"],
        "closed_body": closed["body"],
    }


def summary(prefix: str, latencies: list[float]) -> dict[str, float]:
    # Inclusive: with a few samples (a stalled /health) the p99 stays within them.
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        f"{prefix}_p50_ms": cuts[49] * 1000,
        f"{prefix}_p99_ms": cuts[98] * 1000,
        f"{prefix}_max_ms": max(latencies) * 1000,
    }


def report(phases: list[dict[str, float]], args: argparse.Namespace) -> str:
    lines = [
        f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; "
        f"load average before the run: {args.load_before}",
        f"machine: {machine()}",
        f"bridge: `benchsync bridge` with default options ({default_worker_count()} "
        f"{WORKER_CLASS} workers); webhooks at {args.rate:.0f}/s for {args.seconds:.0f} s from "
        f"{args.senders} senders, /health every {HEALTH_INTERVAL_SECONDS * 1000:.0f} ms; "
        f"requests time out after {args.timeout:.0f} s",
        "",
        "| slow connections | webhooks | ack p50 ms | ack p99 ms | ack max ms | not acked "
        "| /health p50 ms | /health p99 ms | /health max ms | /health failed "
        "| slow ones the bridge closed (headers / body) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for phase in phases:
        lines.append(
            f"| {phase['slow_clients']:.0f} | {phase['webhooks']:.0f} "
            f"| {phase['ack_p50_ms']:.1f} | {phase['ack_p99_ms']:.1f} "
            f"| {phase['ack_max_ms']:.1f} | {phase['ack_failed']:.0f} "
            f"| {phase['health_p50_ms']:.1f} | {phase['health_p99_ms']:.1f} "
            f"| {phase['health_max_ms']:.1f} | {phase['health_failed']:.0f} "
            f"| {phase['closed_head']:.0f} / {phase['closed_body']:.0f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slow-clients", type=int, default=32)
    parser.add_argument("--rate", type=float, default=100.0, help="valid webhooks per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--senders", type=int, default=8, help="concurrent webhook senders")
    parser.add_argument("--timeout", type=float, default=30.0, help="a request's time limit")
    args = parser.parse_args()
    args.load_before = " ".join(f"{load:.1f}" for load in os.getloadavg())

    server_url = os.environ.get("BENCH_POSTGRES_URL", LOCAL_SERVER_URL)
    database_url = create_database(server_url)
    emulator = EmulatorServer(EmulatorSettings(port=0))  # serves the JWKS, signs the webhooks
    environment = {
        "BENCHSYNC_DATABASE_URL": database_url,
        "APP_DEFINITION_ID": emulator.settings.app_definition_id,
        "BENCHLING_JWKS_URL": emulator.jwks_url,
    }
    try:
        migrations.upgrade(database_url)
        with (
            tempfile.TemporaryDirectory(prefix="bridge-slow-") as logs,
            running_bridge(environment, Path(logs) / "bridge.log") as bridge,
        ):
            phases = [
                measure_phase(bridge.port, emulator, slow_clients, args)
                for slow_clients in (0, args.slow_clients)
            ]
        print(report(phases, args))
    finally:
        emulator.stop()
        drop_database(server_url, database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())

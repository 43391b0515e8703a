"""Throughput and latency of the bridge under gunicorn, next to a naive baseline, on loopback.

Both servers run under the same gunicorn settings (--baseline-worker-class may give the baseline
another worker class) on one fresh database; each round starts each afresh, then measures:
1. wrk at full speed, replaying pre-signed webhooks (fresh ids, signed just before the run);
2. a fixed rate (default 500 webhooks/s) from a bounded Python load generator, whose latency
   counts from each request's scheduled send time, so a stall is not hidden;
3. the CPU each server's processes and its Postgres backends spent per webhook during (1), and
   each worker's own memory after it (USS: the pages it does not share with the master).
Rounds alternate the two servers, each round in the other order; the report gives medians, and
the ratio of each round's pair, which a machine whose speed drifts between rounds disturbs less.

Run from the repository root:  .venv/bin/python benchmarks/bridge_throughput.py
Needs wrk (apt-get install wrk) and a Postgres server where it may create a database
(BENCH_POSTGRES_URL, default the machine's postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # comes with pgserver; no stubs installed
import psycopg

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent
# Run as a script: the repository's packages, and baseline_app beside this file.
sys.path[:0] = [str(REPOSITORY), str(HERE)]

from baseline_app import CREATE_TABLE  # noqa: E402

from benchling_emulator.server import EmulatorServer  # noqa: E402
from benchling_emulator.settings import EmulatorSettings  # noqa: E402
from benchling_emulator.signing import WebhookSigner  # noqa: E402
from benchsync.demo.processes import free_port  # noqa: E402
from benchsync_core import migrations  # noqa: E402
from tests.support.postgres import (  # noqa: E402
    LOCAL_SERVER_URL,
    create_database,
    drop_database,
)
from tests.support.webhooks import ENVELOPE_APP_DEFINITION_ID, envelope  # noqa: E402
from webhook_sensor_bridge.server import WORKER_CLASS, default_worker_count  # noqa: E402

LUA_SCRIPT = HERE / "replay_webhooks.lua"
WRK_THREADS = 2
SignedWebhook = tuple[str, str, str, bytes]  # id, timestamp, signature, body


@dataclass
class Server:
    name: str
    command: list[str]
    environment: dict[str, str]
    port: int
    runs: list[dict[str, float]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(run[key] for run in self.runs)


def sign_webhooks(signer: WebhookSigner, count: int) -> list[SignedWebhook]:
    """``count`` fresh webhooks, timestamped now."""
    webhooks = []
    for _ in range(count):
        body = envelope()
        headers = signer.signed_headers(body)
        webhooks.append(
            (
                headers["webhook-id"],
                headers["webhook-timestamp"],
                headers["webhook-signature"],
                body,
            )
        )
    return webhooks


def run_wrk(
    port: int, webhooks: list[SignedWebhook], seconds: float, connections: int
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("wb", suffix=".tsv", delete=False) as requests_file:
        for webhook_id, timestamp, signature, body in webhooks:
            line = [webhook_id.encode(), timestamp.encode(), signature.encode(), body]
            requests_file.write(b"\t".join(line) + b"\n")
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["-s", str(LUA_SCRIPT), f"http://127.0.0.1:{port}/1/webhooks"]
    command += ["--", requests_file.name, str(WRK_THREADS)]
    try:
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(requests_file.name)
    match = re.search(r"^RESULT (.*)$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no RESULT line:\n{output}")
    result = {
        key: int(value) for key, value in (pair.split("=") for pair in match.group(1).split())
    }
    return {
        "webhooks": result["requests"],
        "per_second": result["requests"] / (result["duration_us"] / 1e6),
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "failed": result["status_errors"] + result["socket_errors"],
        "wrapped": result["wrapped"],
    }


def run_fixed_rate(
    port: int, webhooks: list[SignedWebhook], rate: float, senders: int = 32
) -> dict[str, float]:
    latencies, failed = send_at_rate(port, webhooks, rate, senders)
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "rate_p50_ms": cuts[49] * 1000,
        "rate_p99_ms": cuts[98] * 1000,
        "rate_failed": len(failed),
    }


def send_at_rate(
    port: int,
    webhooks: list[SignedWebhook],
    rate: float,
    senders: int = 32,
    timeout: float = 10.0,
) -> tuple[list[float], list[int]]:
    """Each webhook's latency in seconds, counted from its scheduled send time so that a stall is
    not hidden, and the positions of those not answered 200 (within ``timeout``)."""
    start = time.perf_counter() + 0.5
    latencies: list[float] = []
    failed: list[int] = []

    def send_share(first: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        for index in range(first, len(webhooks), senders):
            due = start + index / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            webhook_id, timestamp, signature, body = webhooks[index]
            headers = {"content-type": "application/json", "webhook-id": webhook_id}
            headers |= {"webhook-timestamp": timestamp, "webhook-signature": signature}
            try:
                connection.request("POST", "/1/webhooks", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
            connection.close()  # a connection per webhook, whatever the server keeps alive
            latencies.append(time.perf_counter() - due)
            if not ok:
                failed.append(index)

    threads = [threading.Thread(target=send_share, args=(first,)) for first in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, failed


class CpuMeter:
    """CPU seconds used by a server's process tree, and by Postgres backends of one database."""

    def __init__(self, server_pid: int, database_name: str) -> None:
        self._server = psutil.Process(server_pid)
        self._database_name = database_name

    def read(self) -> dict[str, float]:
        server = [self._server, *self._server.children(recursive=True)]
        backends = [
            process
            for process in psutil.process_iter(["cmdline"])
            if self._database_name in " ".join(process.info["cmdline"] or [])
        ]
        return {"server": _cpu_seconds(server), "postgres": _cpu_seconds(backends)}

    def worker_memory_mib(self) -> float:
        """The mean USS of the server's workers."""
        sizes: list[int] = [worker.memory_full_info().uss for worker in self._server.children()]
        return statistics.mean(sizes) / 2**20


def _cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


@contextmanager
def served(server: Server, log: Path) -> Iterator[int]:
    """Start ``server``; yields its pid once ``/health`` answers."""
    with log.open("w") as output:
        process = subprocess.Popen(
            server.command,
            env={**os.environ, **server.environment},
            cwd=REPOSITORY,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not answers(server.port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{server.name} did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False


def measure_round(
    server: Server, signer: WebhookSigner, database_name: str, args: argparse.Namespace, log: Path
) -> None:
    with served(server, log) as pid:
        run_wrk(server.port, sign_webhooks(signer, 3_000), 2, args.connections)  # warm-up
        webhooks = sign_webhooks(signer, args.webhooks)
        meter = CpuMeter(pid, database_name)
        before = meter.read()
        run = run_wrk(server.port, webhooks, args.seconds, args.connections)
        after = meter.read()
        for part in ("server", "postgres"):
            run[f"{part}_cpu_us"] = (after[part] - before[part]) / run["webhooks"] * 1e6
        run["worker_uss_mib"] = meter.worker_memory_mib()
        fixed_rate_webhooks = sign_webhooks(signer, int(args.rate * args.rate_seconds))
        run |= run_fixed_rate(server.port, fixed_rate_webhooks, args.rate)
    server.runs.append(run)
    print(server.name, {key: round(value, 1) for key, value in run.items()}, file=sys.stderr)


def machine() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        models = [
            line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
        ]
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()[:2]
    return (
        f"{os.cpu_count()} cores ({models[0] if models else platform.processor()}), "
        f"{platform.platform()}, Python {platform.python_version()}, {' '.join(wrk)}"
    )


def report(baseline: Server, bridge: Server, args: argparse.Namespace) -> str:
    rate = f"{args.rate:.0f}/s"
    lines = [
        f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; "
        f"load average before the run: {args.load_before}",
        f"machine: {machine()}",
        f"gunicorn: {args.workers} workers each, the bridge's {WORKER_CLASS}, the baseline's "
        f"{args.baseline_worker_class}; wrk: {WRK_THREADS} threads, "
        f"{args.connections} connections, {args.seconds} s; medians of {args.rounds} rounds",
        "",
        f"| server | webhooks/s | p50 ms | p99 ms | p50 ms @ {rate} | p99 ms @ {rate} "
        "| CPU µs/webhook: server + Postgres | worker MiB | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for server in (baseline, bridge):
        failed = sum(run["failed"] + run["rate_failed"] for run in server.runs)
        lines.append(
            f"| {server.name} | {server.median('per_second'):,.0f} | {server.median('p50_ms'):.1f} "
            f"| {server.median('p99_ms'):.1f} | {server.median('rate_p50_ms'):.1f} "
            f"| {server.median('rate_p99_ms'):.1f} | {server.median('server_cpu_us'):.0f} + "
            f"{server.median('postgres_cpu_us'):.0f} | {server.median('worker_uss_mib'):.0f} "
            f"| {failed:.0f} |"
        )
    ratio = bridge.median("per_second") / baseline.median("per_second")
    paired = [
        mine["per_second"] / theirs["per_second"]
        for mine, theirs in zip(bridge.runs, baseline.runs, strict=True)
    ]
    lines += [
        "",
        f"bridge / baseline throughput: {ratio:.2f}x (target >= 0.8x); round by round: "
        f"{', '.join(f'{each:.2f}x' for each in paired)} (median {statistics.median(paired):.2f}x)",
    ]
    if any(run["wrapped"] for server in (baseline, bridge) for run in server.runs):
        lines.append("warning: wrk ran out of fresh webhooks and resent some; raise --webhooks")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--webhooks", type=int, default=60_000, help="pre-signed per wrk run")
    parser.add_argument("--workers", type=int, default=default_worker_count())
    parser.add_argument("--rate", type=float, default=500.0, help="the fixed rate, webhooks/s")
    parser.add_argument("--rate-seconds", type=float, default=6.0)
    parser.add_argument(
        "--baseline-worker-class",
        default=WORKER_CLASS,
        help="the baseline's gunicorn worker class (default: the bridge's, %(default)s)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    args.load_before = " ".join(f"{load:.1f}" for load in os.getloadavg())

    server_url = os.environ.get("BENCH_POSTGRES_URL", LOCAL_SERVER_URL)
    database_url = create_database(server_url)
    database_name = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    emulator = EmulatorServer(EmulatorSettings(port=0))  # serves the JWKS, signs the webhooks
    logs = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
    gunicorn = ["--workers", str(args.workers)]
    baseline_port, bridge_port = free_port(), free_port()
    baseline = Server(
        "baseline: Flask, JSON, one INSERT, no verification",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{baseline_port}",
            *gunicorn,
            "--worker-class",
            args.baseline_worker_class,
            "--no-control-socket",
            "--pythonpath",
            str(HERE),
            "baseline_app:create_app()",
        ],
        {"BENCH_BASELINE_DATABASE_URL": database_url},
        baseline_port,
    )
    bridge = Server(
        "bridge: `benchsync bridge`, verified",
        [
            sys.executable,
            "-m",
            "benchsync.cli",
            "bridge",
            "--port",
            str(bridge_port),
            *gunicorn,
        ],
        {
            "BENCHSYNC_DATABASE_URL": database_url,
            # The App definition the envelopes name (the keys are the emulator's, by URL), so
            # each webhook is recorded for the sync, not ignored as another App definition's.
            "APP_DEFINITION_ID": ENVELOPE_APP_DEFINITION_ID,
            "BENCHLING_JWKS_URL": emulator.jwks_url,
        },
        bridge_port,
    )
    try:
        migrations.upgrade(database_url)
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(CREATE_TABLE)
        for round_number in range(args.rounds):
            # Each server goes first in every other round, so a drifting machine favours neither.
            for server in (baseline, bridge) if round_number % 2 == 0 else (bridge, baseline):
                log = logs / f"{server.port}-{round_number}.log"
                measure_round(server, emulator.signer, str(database_name), args, log)
        print(report(baseline, bridge, args))
    finally:
        emulator.stop()
        drop_database(server_url, database_url)
        shutil.rmtree(logs, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

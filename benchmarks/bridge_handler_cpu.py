"""CPU per webhook of the bridge's Flask app and of the baseline's, called in-process, no gunicorn.

What the bridge's own code costs, without wrk, gunicorn and the HTTP stack, whose shares dilute the
throughput ratio of bridge_throughput.py: both apps handle signed webhooks (the real signature
check against the emulator's JWKS, a real INSERT into a fresh database) in alternating chunks, so
a machine whose speed drifts slows both alike; the report gives each app's CPU per webhook in
this process (not Postgres') and the bridge's extra. Takes ~15 s; use it to compare changes.

Run from the repository root:  .venv/bin/python benchmarks/bridge_handler_cpu.py
Needs a Postgres server where it may create a database (BENCH_POSTGRES_URL, default the machine's
postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from flask import Flask
from werkzeug.test import EnvironBuilder, run_wsgi_app

HERE = Path(__file__).resolve().parent
# Run as a script: the repository's packages, and baseline_app beside this file.
sys.path[:0] = [str(HERE.parent), str(HERE)]

import baseline_app  # noqa: E402

from benchling_emulator.server import EmulatorServer  # noqa: E402
from benchling_emulator.settings import EmulatorSettings  # noqa: E402
from benchling_emulator.signing import WebhookSigner  # noqa: E402
from benchsync_core import migrations  # noqa: E402
from tests.support.postgres import (  # noqa: E402
    LOCAL_SERVER_URL,
    create_database,
    drop_database,
)
from tests.support.webhooks import ENVELOPE_APP_DEFINITION_ID, envelope  # noqa: E402
from webhook_sensor_bridge import server  # noqa: E402
from webhook_sensor_bridge.app import create_app  # noqa: E402
from webhook_sensor_bridge.settings import Settings  # noqa: E402


def signed_requests(signer: WebhookSigner, count: int) -> list[dict[str, Any]]:
    """WSGI environs of ``count`` fresh webhooks, signed now."""
    environs = []
    for _ in range(count):
        body = envelope()
        builder = EnvironBuilder(
            path="/1/webhooks",
            method="POST",
            data=body,
            headers=list(signer.signed_headers(body).items()),
        )
        environs.append(builder.get_environ())
    return environs


def cpu_seconds(app: Flask, environs: list[dict[str, Any]]) -> float:
    statuses = set()
    started = time.process_time()
    for environ in environs:
        body, status, _ = run_wsgi_app(app, environ)
        b"".join(body)
        statuses.add(status)
    spent = time.process_time() - started
    if statuses != {"200 OK"}:
        raise RuntimeError(f"not every webhook was accepted: {sorted(statuses)}")
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=20, help="chunks per app, alternating")
    parser.add_argument("--chunk-size", type=int, default=200, help="webhooks per chunk")
    args = parser.parse_args()

    server_url = os.environ.get("BENCH_POSTGRES_URL", LOCAL_SERVER_URL)
    database_url = create_database(server_url)
    emulator = EmulatorServer(EmulatorSettings(port=0))
    # The bridge's logging as `benchsync bridge` sets it up, written where it costs no disk.
    server.configure_logging(io.StringIO())
    try:
        migrations.upgrade(database_url)
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(baseline_app.CREATE_TABLE)
        os.environ[baseline_app.DATABASE_URL_VARIABLE] = database_url
        settings = Settings.from_env(
            {
                "BENCHSYNC_DATABASE_URL": database_url,
                # The App definition the envelopes name (the keys are the emulator's, by URL),
                # so each webhook is recorded for the sync, not ignored as another's.
                "APP_DEFINITION_ID": ENVELOPE_APP_DEFINITION_ID,
                "BENCHLING_JWKS_URL": emulator.jwks_url,
            }
        )
        apps: dict[str, Flask] = {
            "baseline": baseline_app.create_app(),
            "bridge": create_app(settings),
        }
        spent = dict.fromkeys(apps, 0.0)
        for chunk in range(args.chunks + 1):
            for name, app in apps.items():
                seconds = cpu_seconds(app, signed_requests(emulator.signer, args.chunk_size))
                if chunk > 0:  # the first chunk warms up (JWKS fetch, prepared statements)
                    spent[name] += seconds
        per_webhook = {
            name: seconds / (args.chunks * args.chunk_size) * 1e6 for name, seconds in spent.items()
        }
    finally:
        emulator.stop()
        drop_database(server_url, database_url)
    for name, micros in per_webhook.items():
        print(f"{name}: {micros:.0f} µs of CPU per webhook")
    print(f"bridge - baseline: {per_webhook['bridge'] - per_webhook['baseline']:.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

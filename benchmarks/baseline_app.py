"""The naive baseline the bridge is measured against: Flask, parse JSON, one INSERT, no checks.

Served by gunicorn exactly as the bridge is (see bridge_throughput.py), on the same database.
"""

from __future__ import annotations

import json
import os

from flask import Flask, Response, request
from psycopg_pool import ConnectionPool

DATABASE_URL_VARIABLE = "BENCH_BASELINE_DATABASE_URL"
CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS baseline_webhooks (
    webhook_id   text PRIMARY KEY,
    message_type text,
    resource_id  text,
    body         text NOT NULL
)
"""
INSERT = """
INSERT INTO baseline_webhooks (webhook_id, message_type, resource_id, body)
VALUES (%s, %s, %s, %s) ON CONFLICT (webhook_id) DO NOTHING
"""


def create_app() -> Flask:
    pool = ConnectionPool(
        os.environ[DATABASE_URL_VARIABLE], min_size=1, max_size=8, kwargs={"autocommit": True}
    )
    app = Flask(__name__)

    @app.post("/1/webhooks")
    def receive() -> Response:
        body = request.get_data()
        message = json.loads(body)["message"]
        with pool.connection() as connection:
            connection.execute(
                INSERT,
                (
                    request.headers["webhook-id"],
                    message["type"],
                    message["resourceId"],
                    body.decode(),
                ),
            )
        return Response('{"outcome": "recorded"}', mimetype="application/json")

    @app.get("/health")
    def health() -> str:
        return "OK"

    return app

"""The Flask application: ``GET /health`` and ``POST /1/webhooks[/<sub-path>]``.

A webhook is answered 2xx only once its row is committed (or was already there); it is stored
only once its signature verifies. Each request logs one JSON line, without the body.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import psycopg
from flask import Flask, Response, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from benchsync_core.database import DatabaseUnavailable
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.connections import LazyPool
from webhook_sensor_bridge.events import MalformedWebhook, Origin, parse_webhook
from webhook_sensor_bridge.settings import SKIP_VERIFICATION_VARIABLE, Settings
from webhook_sensor_bridge.verification import (
    JwksCache,
    KeysUnavailable,
    SignatureRejected,
    WebhookVerifier,
)

logger = logging.getLogger(__name__)
request_log = logging.getLogger("webhook_sensor_bridge.requests")

MAX_BODY_BYTES = 1024 * 1024
REQUIRED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# The pool opens connections on demand up to this, shared by a gevent worker's requests (or the
# tests' threads); a request that finds none free within a second is answered 503.
POOL_MAX_SIZE = 8
# The answers to a webhook that was stored or was already there, encoded once.
_SUCCESS_BODIES = {
    outcome: json.dumps({"outcome": outcome}) for outcome in ("recorded", "ignored", "duplicate")
}
_INSECURE_WARNING = (
    f"{SKIP_VERIFICATION_VARIABLE} is on: webhook signatures are NOT verified; anyone who can "
    "reach this server can write to the inbox. Use it for local development only."
)


@dataclass
class _Outcome:
    status: int
    outcome: str
    message_type: str | None = None
    detail: str | None = None


class WebhookReceiver:
    """The request handlers, holding the worker's connection pool and JWKS cache."""

    def __init__(self, pool: LazyPool, verifier: WebhookVerifier | None, origin: Origin) -> None:
        self.pool = pool
        self._verifier = verifier
        self._origin = origin

    def health(self) -> Response:
        try:
            self.pool.run(inbox.ping)
        except DatabaseUnavailable as error:
            logger.warning("health: database unavailable: %s", error)
            return Response("database unavailable\n", status=503, mimetype="text/plain")
        except psycopg.Error as error:  # answering, but not as the bridge needs: misconfigured
            logger.error("health: database error: %s: %s", type(error).__name__, error)
            return Response(
                f"database error: {type(error).__name__}\n", status=500, mimetype="text/plain"
            )
        return Response("OK", mimetype="text/plain")

    def receive(self, sub_path: str = "") -> Response:
        received_at = time.time()
        started = time.perf_counter()
        headers = request.headers
        webhook_id = headers.get("webhook-id")
        result = self._handle(webhook_id, headers)
        request_log.info(
            json.dumps(
                {
                    "time": round(received_at, 3),
                    "webhook_id": _clipped(webhook_id),
                    "message_type": _clipped(result.message_type),
                    "outcome": result.outcome,
                    "status": result.status,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                    "detail": result.detail,
                }
            )
        )
        if result.status < 300:
            body = _SUCCESS_BODIES[result.outcome]
        else:
            body = json.dumps({"outcome": result.outcome, "detail": result.detail})
        return Response(body, status=result.status, mimetype="application/json")

    def _handle(self, webhook_id: str | None, headers: Headers) -> _Outcome:
        # Checked before reading the body, so an oversized upload is refused unread.
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _Outcome(413, "too_large", detail=f"the body is over {MAX_BODY_BYTES} bytes")
        timestamp = headers.get("webhook-timestamp")
        signature = headers.get("webhook-signature")
        if webhook_id is None or timestamp is None or signature is None:
            missing = [name for name in REQUIRED_HEADERS if name not in headers]
            return _Outcome(400, "malformed", detail=f"missing header(s): {', '.join(missing)}")
        body = request.get_data(cache=False)
        if len(body) > MAX_BODY_BYTES:  # a chunked upload, which declares no length
            return _Outcome(413, "too_large", detail=f"the body is over {MAX_BODY_BYTES} bytes")

        if self._verifier is None:
            logger.warning(_INSECURE_WARNING)
        else:
            try:
                self._verifier.verify(webhook_id, timestamp, signature, body)
            except SignatureRejected as error:
                return _Outcome(401, "unauthorized", detail=str(error))
            except KeysUnavailable as error:
                logger.warning("cannot verify webhooks: %s", error)
                return _Outcome(503, "keys_unavailable", detail="the JWKS cannot be fetched")

        try:
            event = parse_webhook(
                webhook_id, body, self._origin, signature_verified=self._verifier is not None
            )
        except MalformedWebhook as error:
            return _Outcome(400, "malformed", detail=str(error))
        try:
            stored = self.pool.run(lambda connection: inbox.record(connection, event))
        except DatabaseUnavailable as error:
            logger.warning("inbox: database unavailable: %s", error)
            return _Outcome(503, "database_unavailable", event.message_type, "database unavailable")
        except psycopg.Error as error:
            # Not an outage (a missing table, a missing grant): still a 5xx, so Benchling
            # redelivers once an operator has fixed it.
            logger.error("inbox: database error: %s: %s", type(error).__name__, error)
            return _Outcome(
                500, "database_error", event.message_type, f"database error: {type(error).__name__}"
            )
        if not stored:
            return _Outcome(200, "duplicate", event.message_type)
        return _Outcome(200, "ignored" if event.ignored_reason else "recorded", event.message_type)


# What a request log line keeps of a header or an envelope field: Benchling's are far shorter,
# and a hostile one may be a mebibyte.
MAX_LOGGED_CHARACTERS = 256


def _clipped(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_LOGGED_CHARACTERS:
        return text
    return f"{text[:MAX_LOGGED_CHARACTERS]}… ({len(text)} characters)"


def create_app(settings: Settings | None = None) -> Flask:
    """The bridge's Flask app; ``settings`` default to ``Settings.from_env()``."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    # Werkzeug stops reading a stream of undeclared length here: one byte more than we accept,
    # so that an over-long chunked body shows as too long instead of being cut to size.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    verifier = None
    if settings.skip_verification:
        logger.warning(_INSECURE_WARNING)
    else:
        assert settings.jwks_url is not None  # Settings requires it unless verification is off
        verifier = WebhookVerifier(
            JwksCache(
                settings.jwks_url,
                max_age_seconds=settings.jwks_max_age_seconds,
                refetch_floor_seconds=settings.jwks_refetch_floor_seconds,
            )
        )
    receiver = WebhookReceiver(
        LazyPool(settings.database_url, POOL_MAX_SIZE), verifier, settings.origin
    )
    app.extensions["webhook_receiver"] = receiver
    app.add_url_rule("/health", view_func=receiver.health, methods=["GET"])
    app.add_url_rule("/1/webhooks", view_func=receiver.receive, methods=["POST"])
    app.add_url_rule("/1/webhooks/<path:sub_path>", view_func=receiver.receive, methods=["POST"])
    app.register_error_handler(Exception, _json_error)
    return app


def _json_error(error: Exception) -> Response:
    """Any error a handler did not answer itself, as JSON rather than Flask's HTML page."""
    if isinstance(error, HTTPException):  # 404, 405, …: the client's mistake
        status, outcome, detail = error.code or 500, "http_error", error.description
    else:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        status, outcome, detail = 500, "internal_error", type(error).__name__
    body = json.dumps({"outcome": outcome, "detail": detail})
    return Response(body, status=status, mimetype="application/json")

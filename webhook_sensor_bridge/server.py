"""Serving the bridge with gunicorn: each worker builds its own app (and so its own pool)."""

from __future__ import annotations

import gc
import logging
import os
import sys
from typing import Any, TextIO

import psycopg
from flask import Flask
from gunicorn.app.base import BaseApplication

from benchsync_core.database import connect
from webhook_sensor_bridge import cooperative, inbox
from webhook_sensor_bridge.app import WebhookReceiver, create_app, request_log
from webhook_sensor_bridge.settings import Settings

# Gevent workers, one greenlet per connection: a client trickling its request holds a greenlet,
# not the worker (sync workers each blocked on one: two slow sockets stalled /health for 11 s).
# Needs cooperative.patch() before psycopg is imported; `benchsync bridge` does that first.
WORKER_CLASS = "gevent"
# A worker whose event loop is blocked longer than this is replaced; Benchling's own deliveries
# are answered well inside its 3 s limit.
WORKER_TIMEOUT_SECONDS = 10
# Stopping, a worker finishes its requests for this long, then is killed: a webhook in flight ends
# within ~3 s (pool wait 1 s, statement 2 s), and slow clients must not hold a stop for gunicorn's
# 30 s (nor a worker that missed the signal while booting, a gunicorn race).
GRACEFUL_TIMEOUT_SECONDS = 5


class NotMigrated(Exception):
    """The database has no inbox yet (``benchsync db upgrade`` creates it), or none this role
    may use (``benchsync db grant-bridge`` grants it)."""


def check_database(database_url: str) -> None:
    """Before serving: the database answers (else DatabaseUnavailable) and holds the inbox.

    The bridge never migrates: that is ``benchsync db upgrade``'s job, so that the bridge's
    processes load neither Alembic nor SQLAlchemy.
    """
    with connect(database_url, connect_timeout=5) as connection:
        try:
            inbox.ping(connection)
        except psycopg.errors.UndefinedTable:
            raise NotMigrated(
                "the database has no inbox (benchsync.inbox): run `benchsync db upgrade` first"
            ) from None
        except psycopg.errors.InsufficientPrivilege:
            raise NotMigrated(
                "the bridge's role may not use the inbox (benchsync.inbox): run `benchsync db"
                " grant-bridge <role>` as its owner"
            ) from None


def default_worker_count() -> int:
    # Two per core: a worker runs one greenlet at a time, so a request busy with the CPU (a
    # signature check, a 1 MiB body) holds up only its own worker's connections.
    return 2 * (os.cpu_count() or 1)


class BridgeServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)
        # Gunicorn >= 25.1 opens a control socket at one fixed path per user; a second server
        # on the machine (the demo, a benchmark's baseline) would fight over it.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)
        self.cfg.set("pre_fork", freeze_inherited_objects)
        self.cfg.set("worker_exit", close_worker_pool)

    def load(self) -> Flask:
        # Called in each worker after the fork, so no pool or thread crosses a fork.
        return create_app(self._settings)


def freeze_inherited_objects(arbiter: object, worker: object) -> None:
    """Gunicorn's pre-fork hook: keep what the master loaded out of the workers' collections.

    Unfrozen, each full collection in a worker walks every object the master imported, copying
    each page it touches: with ~135,000 objects that was ~80 ms per collection on 2 cores, a
    stall every few thousand webhooks. The gc docs' advice for forking servers.
    """
    gc.freeze()


def close_worker_pool(arbiter: object, worker: object) -> None:
    """Gunicorn's worker_exit hook: close the exiting worker's pool while gevent still runs.

    Left to the interpreter's exit, psycopg_pool's finaliser waits on its (gevent) threads after
    the hub is gone, and every stopped worker printed a "greenlet is being finalized" traceback.
    """
    app = getattr(worker, "wsgi", None)  # unset if the worker never loaded the app
    if isinstance(app, Flask):
        receiver: WebhookReceiver = app.extensions["webhook_receiver"]
        receiver.pool.close()


def configure_logging(stream: TextIO) -> None:
    """Warnings from everything; from the bridge, INFO too, and one bare JSON line per request."""
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=stream,
    )
    # INFO for our own lines only: psycopg_pool logs three INFO lines per borrowed connection.
    logging.getLogger("webhook_sensor_bridge").setLevel(logging.INFO)
    # Request lines carry their own time, so each line is a JSON object a log shipper can parse.
    request_lines = logging.StreamHandler(stream)
    request_lines.setFormatter(logging.Formatter("%(message)s"))
    request_log.addHandler(request_lines)
    request_log.propagate = False
    # One line per webhook: skip the caller lookup and the thread fields nobody prints. The
    # logging HOWTO's "Optimization" section documents these module attributes; there is no
    # public function for the caller lookup. Gunicorn's own lines print the process id.
    logging._srcfile = None
    logging.logThreads = logging.logMultiprocessing = False


def serve(settings: Settings, host: str, port: int, workers: int | None = None) -> int:
    cooperative.require_patched()
    configure_logging(sys.stderr)
    BridgeServer(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": workers or default_worker_count(),
            "worker_class": WORKER_CLASS,
            "timeout": WORKER_TIMEOUT_SECONDS,
            "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
            # Our one JSON line per request replaces gunicorn's access log.
            "accesslog": None,
            "errorlog": "-",
            "proc_name": "benchsync-bridge",
        },
    ).run()
    return 0

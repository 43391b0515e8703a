"""Serving the bridge with gunicorn: each worker builds its own app (and so its own pool)."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from webhook_sensor_bridge.app import create_app
from webhook_sensor_bridge.settings import Settings

# Threaded workers: a slow client holds one thread, not a whole process; the GIL is released
# while a worker waits on Postgres.
THREADS_PER_WORKER = 4


def default_worker_count() -> int:
    # Two per core keeps both cores busy while some workers wait on Postgres' commit.
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

    def load(self) -> Flask:
        # Called in each worker after the fork, so no pool or thread crosses a fork.
        return create_app(self._settings)


def serve(settings: Settings, host: str, port: int, workers: int | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"
    )
    BridgeServer(
        settings,
        {
            "bind": f"{host}:{port}",
            "workers": workers or default_worker_count(),
            "worker_class": "gthread",
            "threads": THREADS_PER_WORKER,
            # Our one JSON line per request replaces gunicorn's access log.
            "accesslog": None,
            "errorlog": "-",
            "proc_name": "benchsync-bridge",
        },
    ).run()
    return 0

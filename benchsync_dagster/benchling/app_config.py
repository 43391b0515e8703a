"""The App's configuration in Benchling: which schema and field feed ``synced_benchling_data``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchling_sdk.apps.config.errors import MissingRequiredConfigItemError
from benchling_sdk.apps.framework import App
from benchling_sdk.benchling import Benchling

from benchsync.settings import ConfigurationError

# The App configuration paths this code reads; manifest.yaml declares the same.
SYNCED_SCHEMA_PATH = ["Synced Schema"]
SYNCED_FIELD_PATH = ["Synced Schema", "Synced Field Data"]


@dataclass(frozen=True)
class SyncTarget:
    """Which schema feeds ``synced_benchling_data``, and which of its fields is the value."""

    schema_id: str
    field_name: str


def read_sync_target(benchling: Benchling, app_id: str) -> SyncTarget:
    """Read the App configuration ("Synced Schema" → "Synced Field Data") from the tenant."""
    store = App(app_id, benchling).config_store
    try:
        schema_id = store.config_by_path(SYNCED_SCHEMA_PATH).required().value_str()
        field = store.config_by_path(SYNCED_FIELD_PATH).required().linked_resource()
    except MissingRequiredConfigItemError as error:
        raise ConfigurationError(
            f"the App's configuration in Benchling is incomplete: {error}"
        ) from error
    return SyncTarget(schema_id=schema_id, field_name=field.name)


class SyncTargetCache:
    """App configurations by (tenant, App), each read again once ``ttl_seconds`` old, or after
    ``invalidate()``.

    Reading one costs API calls, so the sensor keeps a copy per process and passes it to runs in
    their config.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._targets: dict[tuple[str, str], tuple[SyncTarget, float]] = {}

    def get(
        self, key: tuple[str, str], read: Callable[[], SyncTarget], ttl_seconds: float
    ) -> SyncTarget:
        with self._lock:
            cached = self._targets.get(key)
            if cached is None or self._clock() - cached[1] >= ttl_seconds:
                cached = (read(), self._clock())
                self._targets[key] = cached
            return cached[0]

    def invalidate(self) -> None:
        with self._lock:
            self._targets.clear()

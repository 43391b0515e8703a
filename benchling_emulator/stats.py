"""Counters that ``GET /_emulator/stats`` reports, safe to bump from any thread."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()  # admitted /api/v2 requests, by route
        self._counts: Counter[str] = Counter()

    def count_request(self, route: str) -> None:
        with self._lock:
            self._requests[route] += 1

    def increment(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counts[name] += by

    def requests(self) -> dict[str, int]:
        with self._lock:
            return dict(self._requests)

    def count(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

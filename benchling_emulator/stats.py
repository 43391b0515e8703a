"""Counters that ``GET /_emulator/stats`` reports, and a log of the API calls offered to the
rate limit; safe to use from any thread."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# What became of an API call that reached the rate limit's door.
Outcome = Literal["admitted", "fault", "rate_limited"]
# The log keeps this many calls, the newest: hours of a sync at Benchling's rates.
REQUEST_LOG_SIZE = 100_000


@dataclass(frozen=True)
class LoggedRequest:
    at: float  # monotonic seconds, when it arrived
    route: str  # "GET /api/v2/custom-entities:bulk-get"
    outcome: Outcome  # admitted, answered by an injected fault, or refused by the rate limit
    status: int | None  # the refusal's status; None when admitted (its route answers)


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()  # admitted /api/v2 requests, by route
        self._counts: Counter[str] = Counter()
        self._log: deque[LoggedRequest] = deque(maxlen=REQUEST_LOG_SIZE)

    def count_request(self, route: str) -> None:
        with self._lock:
            self._requests[route] += 1

    def log_request(self, route: str, outcome: Outcome, status: int | None = None) -> None:
        """Note an authenticated API call (the token endpoint is neither) and its outcome."""
        with self._lock:
            self._log.append(LoggedRequest(time.monotonic(), route, outcome, status))

    def increment(self, name: str, by: int = 1) -> None:
        with self._lock:
            self._counts[name] += by

    def requests(self) -> dict[str, int]:
        with self._lock:
            return dict(self._requests)

    def count(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def request_log(self, since: float = float("-inf")) -> list[LoggedRequest]:
        """The logged calls that arrived at or after ``since`` (monotonic seconds), oldest first."""
        with self._lock:
            return [logged for logged in self._log if logged.at >= since]


def busiest_window(moments: Iterable[float], window_seconds: float) -> int:
    """The most of ``moments`` that fall in any half-open window ``[t, t + window_seconds)``:
    what a sliding-window limit of that width had to hold at its fullest."""
    inside: deque[float] = deque()
    busiest = 0
    for moment in sorted(moments):
        inside.append(moment)
        while inside[0] <= moment - window_seconds:
            inside.popleft()
        busiest = max(busiest, len(inside))
    return busiest

"""Keeping this process's calls to Benchling within the tenant's rate limit.

Pacing lives in the code location, not in the Dagster instance, because users deploy it into
instances whose settings we do not control. Every HTTP call (token requests included) passes
through ``PacedTransport``, which keeps this process under the configured rate and waits out a
429 for as long as ``x-rate-limit-reset`` says.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import httpx

RATE_WINDOW_SECONDS = 30.0  # Benchling counts requests per tenant in 30 s windows


def _seconds(header_value: str | None) -> float | None:
    try:
        return float(header_value) if header_value is not None else None
    except ValueError:
        return None


@dataclass
class CallStats:
    """What this process has spent against the tenant's limit."""

    requests: int = 0
    throttled: int = 0  # answers of 429
    waited_seconds: float = 0.0
    last_rate_limit_headers: dict[str, str] = field(default_factory=dict)


class PacedTransport(httpx.BaseTransport):
    """Keeps this process within ``rate_limit`` requests per 30 s and waits out 429s.

    Other processes spend the same tenant budget, so it also pauses when Benchling reports
    ``x-rate-limit-remaining: 0``, until ``x-rate-limit-reset`` has passed.
    """

    def __init__(
        self,
        rate_limit: int,
        inner: httpx.BaseTransport | None = None,
        least_throttle_wait: float = 1.0,
        max_throttled_retries: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._rate_limit = rate_limit
        self._least_throttle_wait = least_throttle_wait
        self._max_throttled_retries = max_throttled_retries
        self._clock, self._sleep = clock, sleep
        self._sent_at: collections.deque[float] = collections.deque()
        self._tenant_exhausted_until = 0.0
        self._lock = threading.Lock()
        self.stats = CallStats()

    def _wait_for_slot(self) -> None:
        with self._lock:
            now = self._clock()
            while self._sent_at and now - self._sent_at[0] >= RATE_WINDOW_SECONDS:
                self._sent_at.popleft()
            wait = max(0.0, self._tenant_exhausted_until - now)
            if len(self._sent_at) >= self._rate_limit:
                wait = max(wait, RATE_WINDOW_SECONDS - (now - self._sent_at[0]))
            # Reserve the slot now so concurrent callers queue behind it.
            self._sent_at.append(now + wait)
            self.stats.requests += 1
            self.stats.waited_seconds += wait
        if wait > 0:
            self._sleep(wait)

    def _note_headers(self, response: httpx.Response) -> None:
        headers = {
            name: response.headers[name]
            for name in ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")
            if name in response.headers
        }
        if not headers:
            return
        with self._lock:
            self.stats.last_rate_limit_headers = headers
            if headers.get("x-rate-limit-remaining") == "0":
                reset = _seconds(headers.get("x-rate-limit-reset"))
                self._tenant_exhausted_until = self._clock() + (reset or 1.0)

    def _throttle_wait(self, response: httpx.Response, attempt: int) -> float:
        reset = _seconds(response.headers.get("x-rate-limit-reset"))
        if reset is None:
            return float(min(self._least_throttle_wait * 2**attempt, RATE_WINDOW_SECONDS))
        return max(self._least_throttle_wait, reset)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(self._max_throttled_retries + 1):
            self._wait_for_slot()
            response = self._inner.handle_request(request)
            self._note_headers(response)
            if (
                response.status_code != HTTPStatus.TOO_MANY_REQUESTS
                or attempt == self._max_throttled_retries
            ):
                return response
            response.read()
            response.close()
            wait = self._throttle_wait(response, attempt)
            with self._lock:
                self.stats.throttled += 1
                self.stats.waited_seconds += wait
            self._sleep(wait)
        raise AssertionError("unreachable")  # the loop always returns

    def close(self) -> None:
        self._inner.close()

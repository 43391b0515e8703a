"""Keeping calls to Benchling within the tenant's rate limit.

Pacing lives in the code location, not in the Dagster instance, because users deploy it into
instances whose settings we do not control. Every HTTP call (token requests included) passes
through ``PacedTransport``, which takes a slot of a ``RateBudget`` before sending and waits out a
429 for as long as ``x-rate-limit-reset`` says. The deployment's budget is shared by every
process that calls Benchling (``storage.benchling_budget``); ``LocalBudget`` is one process's.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Protocol

import httpx

RATE_WINDOW_SECONDS = 30.0  # Benchling counts requests per tenant in 30 s windows
# A slot is when a request leaves; Benchling counts it when it arrives, a little later, and
# network delays differ: budget windows are this much longer than Benchling's.
WINDOW_MARGIN_SECONDS = 0.5
# 429 waits grow by up to this fraction (never shrink: sooner would be refused again), so that
# callers refused together do not all come back together.
THROTTLE_JITTER = 0.1
# What Benchling (or the way to it) answers when it is down, rather than refusing a request.
OUTAGE_STATUSES = frozenset(
    {HTTPStatus.BAD_GATEWAY, HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.GATEWAY_TIMEOUT}
)


class RateBudget(Protocol):
    def reserve(self) -> float:
        """Take the next free slot of the budget; the seconds to wait until it comes."""
        ...


class Health(Protocol):
    """Told what each call found: Benchling unavailable, or answering."""

    def unavailable(self, error: str) -> None: ...

    def answered(self) -> None: ...


def next_slot(reserved: collections.deque[float], now: float, limit: int, window: float) -> float:
    """The earliest moment from ``now`` at which a request keeps every ``window`` of the
    ``reserved`` slots (oldest first) within ``limit``: not before the ``limit``-th newest slot
    has left the window. (Measuring from the oldest slot would admit concurrent callers in
    bursts.)"""
    while reserved and reserved[0] <= now - window:
        reserved.popleft()
    if len(reserved) < limit:
        return now
    return max(now, reserved[-limit] + window)


class LocalBudget:
    """One process's sliding window of ``rate_limit`` requests per ``window_seconds``."""

    def __init__(
        self,
        rate_limit: int,
        window_seconds: float = RATE_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate_limit = rate_limit
        self._window = window_seconds
        self._clock = clock
        self._reserved: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = self._clock()
            slot = next_slot(self._reserved, now, self._rate_limit, self._window)
            self._reserved.append(slot)  # queued callers line up behind it
            return slot - now


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
    """Sends each request in a slot of ``budget``, and waits out 429s.

    Clients outside the budget may spend the same tenant's limit, so it also pauses when
    Benchling reports ``x-rate-limit-remaining: 0``, until ``x-rate-limit-reset`` has passed.
    """

    def __init__(
        self,
        budget: RateBudget,
        inner: httpx.BaseTransport | None = None,
        health: Health | None = None,
        least_throttle_wait: float = 1.0,
        max_throttled_retries: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._budget = budget
        self._health = health
        self._least_throttle_wait = least_throttle_wait
        self._max_throttled_retries = max_throttled_retries
        self._clock, self._sleep = clock, sleep
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrecy)
        self._tenant_exhausted_until = 0.0
        self._lock = threading.Lock()
        self.stats = CallStats()

    def _wait_for_slot(self) -> None:
        wait = self._budget.reserve()
        with self._lock:
            wait = max(wait, self._tenant_exhausted_until - self._clock())
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
            wait = float(min(self._least_throttle_wait * 2**attempt, RATE_WINDOW_SECONDS))
        else:
            wait = max(self._least_throttle_wait, reset)
        return wait * self._rng.uniform(1, 1 + THROTTLE_JITTER)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(self._max_throttled_retries + 1):
            self._wait_for_slot()
            response = self._send(request)
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

    def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self._inner.handle_request(request)
        except httpx.TransportError as error:
            if self._health is not None:
                self._health.unavailable(f"{type(error).__name__}: {error}")
            raise
        if self._health is not None:
            if response.status_code in OUTAGE_STATUSES:
                self._health.unavailable(f"HTTP {response.status_code} from {request.url.path}")
            else:
                self._health.answered()
        return response

    def close(self) -> None:
        self._inner.close()

"""Benchling's tenant rate limit, and the faults the emulator injects on purpose."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateDecision:
    admitted: bool
    limit: int
    remaining: int
    reset_seconds: int  # whole seconds until the oldest counted request leaves the window

    def headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(self.reset_seconds),
        }


class SlidingWindowLimiter:
    """At most ``limit`` admitted requests in any ``window_seconds``; refused ones do not count."""

    def __init__(
        self,
        limit: int,
        window_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._admitted: deque[float] = deque()  # when each request in the window was admitted

    @property
    def limit(self) -> int:
        return self._limit

    @limit.setter
    def limit(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the rate limit must admit at least one request")
        with self._lock:
            self._limit = limit

    def acquire(self) -> RateDecision:
        """Admit one request if the window has room, and say how the window stands."""
        with self._lock:
            now = self._forget_old()
            admitted = len(self._admitted) < self._limit
            if admitted:
                self._admitted.append(now)
            return self._decision(admitted, now)

    def peek(self) -> RateDecision:
        """How the window stands, admitting nothing."""
        with self._lock:
            now = self._forget_old()
            return self._decision(len(self._admitted) < self._limit, now)

    def _forget_old(self) -> float:
        now = self._clock()
        while self._admitted and self._admitted[0] <= now - self._window:
            self._admitted.popleft()
        return now

    def _decision(self, admitted: bool, now: float) -> RateDecision:
        remaining = max(0, self._limit - len(self._admitted))
        # The window gains room when its oldest request leaves it.
        reset = self._admitted[0] + self._window - now if self._admitted else 0.0
        return RateDecision(admitted, self._limit, remaining, math.ceil(reset))


class FaultInjector:
    """Answers a ``fail_rate`` fraction of API calls with one of ``statuses`` (429 or 503 by
    default), every call that names an entity of ``entity_statuses`` with that entity's
    status (one bad entity in a batch), and every list call of an entity type in
    ``list_statuses`` with that type's status (one type that cannot be listed).

    The rate holds over every ten calls (a fraction of a fault carries over to the next ten),
    at seeded random places among them, and the statuses take turns: a test that counts faults
    after a few dozen calls is not a lottery, and faults still come back to back."""

    CALLS_PER_DEAL = 10
    # Faults are counted in thousandths, whole numbers: a float carry drifts (0.03 gave 2 in 100).
    SHARES_PER_FAULT = 1000

    def __init__(
        self, fail_rate: float, rng: random.Random, statuses: tuple[int, ...] = (429, 503)
    ) -> None:
        self.statuses = statuses
        self.entity_statuses: dict[str, int] = {}
        self.list_statuses: dict[str, int] = {}
        self._rng = rng
        self._lock = threading.Lock()
        self.fail_rate = fail_rate

    @property
    def fail_rate(self) -> float:
        return self._fail_rate

    @fail_rate.setter
    def fail_rate(self, fail_rate: float) -> None:
        if not 0.0 <= fail_rate <= 1.0:  # NaN included
            raise ValueError(f"fail_rate must be from 0 to 1, not {fail_rate}")
        # A new rate starts a new deal, so no fault dealt under the old one is still to come.
        with self._lock:
            self._fail_rate = fail_rate
            self._shares_per_deal = round(fail_rate * self.CALLS_PER_DEAL * self.SHARES_PER_FAULT)
            self._dealt: list[bool] = []
            self._carried_shares = 0
            self._turn = 0

    def for_entities(self, entity_ids: list[str]) -> tuple[int, str] | None:
        """The status to fail a call naming ``entity_ids`` with, and the id it is for."""
        for entity_id in entity_ids:
            status = self.entity_statuses.get(entity_id)
            if status is not None:
                return status, entity_id
        return None

    def draw(self) -> int | None:
        """The status to fail this call with, or None to let it through."""
        with self._lock:
            if not self._dealt:
                self._dealt = self._deal()
            if not self._dealt.pop():
                return None
            statuses = self.statuses  # read once: the control endpoint may replace it
            status = statuses[self._turn % len(statuses)]
            self._turn += 1
            return status

    def _deal(self) -> list[bool]:
        """Which of the next ten calls fail; a fraction of a fault carries over to the next ten."""
        self._carried_shares += self._shares_per_deal
        failures = self._carried_shares // self.SHARES_PER_FAULT
        self._carried_shares -= failures * self.SHARES_PER_FAULT
        dealt = [True] * failures + [False] * (self.CALLS_PER_DEAL - failures)
        self._rng.shuffle(dealt)
        return dealt

    @staticmethod
    def contention_headers(limit: int) -> dict[str, str]:
        """An injected 429 stands for another client spending the budget: retry in a second."""
        return RateDecision(False, limit, 0, 1).headers()

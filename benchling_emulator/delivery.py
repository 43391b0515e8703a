"""Webhook delivery as Benchling does it: signed, paced, at least once, in no promised order.

A small pool of threads takes webhooks off one queue. Every POST waits for its slot in a shared
pace (``rate`` per second). A non-2xx answer or a timeout sends the webhook back for another
attempt after an exponential backoff, re-signed with a fresh timestamp and the same webhook-id,
until ``max_attempts`` have failed. A delivery log keeps, per webhook and URL, how many POSTs
were acknowledged, how many failed and how long each took: what a test needs to hold the
receiver to its answers.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from benchling_emulator.signing import WebhookSigner
from benchling_emulator.stats import Stats


@dataclass
class _Webhook:
    """One webhook on its way to one URL."""

    url: str
    webhook_id: str
    body: bytes
    failed_attempts: int = 0


@dataclass(frozen=True)
class DeliveryRecord:
    """What the POSTs of one webhook to one URL have come to so far."""

    url: str
    webhook_id: str
    acknowledged: int  # POSTs answered 2xx: a duplicate copy is acknowledged once more
    failed: int  # POSTs answered otherwise, or not at all
    post_seconds: tuple[float, ...]  # how long each POST took to be answered (or to fail)


@dataclass
class _Tally:
    acknowledged: int = 0
    failed: int = 0
    post_seconds: list[float] = field(default_factory=list)


class WebhookDelivery:
    def __init__(
        self,
        signer: WebhookSigner,
        stats: Stats,
        rng: random.Random,
        *,
        urls: tuple[str, ...],
        rate: float,
        workers: int,
        max_attempts: int,
        backoff_seconds: float,
        timeout_seconds: float,
        duplicate_rate: float,
        shuffle: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._signer = signer
        self._stats = stats
        self._rng = rng
        self._interval = 1.0 / rate
        self._workers = workers
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._urls = urls
        self.duplicate_rate = duplicate_rate
        self.shuffle = shuffle
        self._changed = threading.Condition()  # guards every attribute below
        self._ready: deque[_Webhook] = deque()
        self._retries: list[tuple[float, int, _Webhook]] = []  # a heap, soonest due first
        self._retry_order = itertools.count()  # breaks ties between retries due together
        self._in_flight = 0
        self._log: dict[tuple[str, str], _Tally] = {}  # by (url, webhook id), in submit order
        self._next_slot = 0.0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def urls(self) -> tuple[str, ...]:
        with self._changed:
            return self._urls

    @urls.setter
    def urls(self, urls: tuple[str, ...]) -> None:
        with self._changed:
            self._urls = urls

    def start(self) -> None:
        for number in range(self._workers):
            thread = threading.Thread(
                target=self._work, name=f"emulator-webhooks-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the workers (each finishes at most one POST); undelivered webhooks are dropped."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def submit(self, bodies: list[bytes]) -> None:
        """Queue one webhook per body for every URL; some go twice when duplicate_rate says so."""
        with self._changed:
            for body in bodies:
                webhook_id = f"msg_{self._rng.getrandbits(128):032x}"
                copies = 2 if self._rng.random() < self.duplicate_rate else 1
                for url in self._urls:
                    self._ready.extend(_Webhook(url, webhook_id, body) for _ in range(copies))
                    self._log[url, webhook_id] = _Tally()
            self._changed.notify_all()

    def log(self) -> list[DeliveryRecord]:
        """Every webhook submitted, per URL, oldest first, with its POSTs' outcomes so far."""
        with self._changed:
            return [
                DeliveryRecord(
                    url, webhook_id, tally.acknowledged, tally.failed, tuple(tally.post_seconds)
                )
                for (url, webhook_id), tally in self._log.items()
            ]

    def pending(self) -> int:
        """Webhooks queued, waiting for a retry, or being POSTed right now."""
        with self._changed:
            return self._pending()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is pending; False if that took longer than ``timeout``."""
        with self._changed:
            return self._changed.wait_for(lambda: self._pending() == 0, timeout)

    def _pending(self) -> int:
        return len(self._ready) + len(self._retries) + self._in_flight

    def _work(self) -> None:
        with httpx.Client(timeout=self._timeout) as client:
            while (webhook := self._take()) is not None:
                started = time.perf_counter()
                delivered = self._post(client, webhook)
                self._settle(webhook, delivered, time.perf_counter() - started)

    def _take(self) -> _Webhook | None:
        """The next webhook, once its paced slot has come; None when stopping."""
        with self._changed:
            while True:
                if self._stopping.is_set():
                    return None
                self._promote_due_retries()
                if self._ready:
                    break
                due = self._retries[0][0] - self._clock() if self._retries else None
                self._changed.wait(due)
            webhook = self._pick()
            self._in_flight += 1
            slot = max(self._clock(), self._next_slot)
            self._next_slot = slot + self._interval
        if self._stopping.wait(max(0.0, slot - self._clock())):
            return None
        return webhook

    def _pick(self) -> _Webhook:
        if not self.shuffle:
            return self._ready.popleft()
        index = self._rng.randrange(len(self._ready))
        webhook = self._ready[index]
        del self._ready[index]
        return webhook

    def _promote_due_retries(self) -> None:
        now = self._clock()
        while self._retries and self._retries[0][0] <= now:
            # A retry's backoff has already been served: it goes before fresh webhooks.
            self._ready.appendleft(heapq.heappop(self._retries)[2])

    def _post(self, client: httpx.Client, webhook: _Webhook) -> bool:
        headers = self._signer.signed_headers(webhook.body, webhook_id=webhook.webhook_id)
        try:
            response = client.post(webhook.url, content=webhook.body, headers=headers)
        except httpx.HTTPError:
            return False
        return response.is_success

    def _settle(self, webhook: _Webhook, delivered: bool, seconds: float) -> None:
        with self._changed:
            self._in_flight -= 1
            tally = self._log[webhook.url, webhook.webhook_id]
            tally.post_seconds.append(seconds)
            if delivered:
                tally.acknowledged += 1
                self._stats.increment("webhooks_delivered")
            else:
                tally.failed += 1
                webhook.failed_attempts += 1
                self._stats.increment("webhook_attempts_failed")
                if webhook.failed_attempts < self._max_attempts:
                    delay = self._backoff * 2 ** (webhook.failed_attempts - 1)
                    due = (self._clock() + delay, next(self._retry_order), webhook)
                    heapq.heappush(self._retries, due)
                else:
                    self._stats.increment("webhooks_abandoned")
            self._changed.notify_all()

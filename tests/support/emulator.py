"""Fixtures that serve the Benchling emulator over real HTTP, and a webhook receiver to point it at.

- ``emulator``: a running ``EmulatorServer`` with test-speed settings (fast webhooks, short
  backoffs, a rate limit high enough not to get in the way).
- ``make_emulator(**overrides)``: another one with some settings changed; stopped after the test.
- ``benchling``: a benchling-sdk client logged in to ``emulator``.
- ``webhook_receiver``: a tiny HTTP server that records what it is sent (``.url``, ``.received``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from benchling_sdk.auth.client_credentials_oauth2 import ClientCredentialsOAuth2
from benchling_sdk.benchling import Benchling
from benchling_sdk.helpers.retry_helpers import RetryStrategy

from benchling_emulator.server import EmulatorServer
from benchling_emulator.settings import EmulatorSettings
from tests.support import openapi
from tests.support.conformance import ConformanceLog

TEST_SETTINGS = EmulatorSettings(
    port=0,
    seed=1234,
    rate_limit=100_000,
    webhook_rate=2_000.0,
    webhook_backoff_seconds=0.05,
    webhook_max_attempts=4,
    webhook_timeout_seconds=2.0,
)

MakeEmulator = Callable[..., EmulatorServer]


def benchling_client(
    server: EmulatorServer,
    *,
    client_secret: str | None = None,
    retry_backoff_seconds: float = 0.05,
) -> Benchling:
    """A benchling-sdk client for ``server``; its retries wait ``retry_backoff_seconds * 2**n``."""
    secret = server.settings.client_secret if client_secret is None else client_secret
    return Benchling(
        server.base_url,
        auth_method=ClientCredentialsOAuth2(server.settings.client_id, secret),
        retry_strategy=RetryStrategy(backoff_factor=retry_backoff_seconds),
    )


def conformance_checked(server: EmulatorServer) -> ConformanceLog:
    """Hold every later answer of ``server``'s API and every webhook it publishes to
    Benchling's OpenAPI documents; the violations collect in the log returned."""
    log = ConformanceLog()
    openapi.rest(), openapi.webhooks()  # read now: not inside the first request's answer
    server.wrap_app(log.middleware)
    server.webhook_observers.append(log.keep_webhooks)
    return log


@pytest.fixture
def make_emulator() -> Iterator[MakeEmulator]:
    """Emulators stopped after the test, which fails if one answered or sent what Benchling's
    OpenAPI documents do not describe (``tests.support.conformance``)."""
    started: list[tuple[EmulatorServer, ConformanceLog]] = []

    def make(**overrides: Any) -> EmulatorServer:
        server = EmulatorServer(dataclasses.replace(TEST_SETTINGS, **overrides))
        started.append((server, conformance_checked(server)))
        return server

    yield make
    violations = []
    for server, log in started:
        server.stop()
        violations += [str(violation) for violation in log.violations()]
    assert not violations, "not as Benchling's OpenAPI documents say:\n" + "\n".join(violations)


@pytest.fixture
def emulator(make_emulator: MakeEmulator) -> EmulatorServer:
    return make_emulator()


@pytest.fixture
def benchling(emulator: EmulatorServer) -> Benchling:
    return benchling_client(emulator)


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


class WebhookReceiver:
    """Records every POST; answers ``fail_status`` to the next ``fail_next`` of them, else 200."""

    def __init__(self) -> None:
        self.received: list[ReceivedWebhook] = []
        self.fail_next = 0
        self.fail_status = 500
        self._changed = threading.Condition()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/1/webhooks"
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedWebhook]:
        """The webhooks received once there are at least ``count`` (AssertionError on timeout)."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.received) >= count, timeout)
            assert arrived, f"{len(self.received)} of {count} webhooks arrived in {timeout} s"
            return list(self.received)

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    def _record(self, webhook: ReceivedWebhook) -> int:
        with self._changed:
            self.received.append(webhook)
            self._changed.notify_all()
            if self.fail_next > 0:
                self.fail_next -= 1
                return self.fail_status
            return 200

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver._record(ReceivedWebhook(self.path, headers, body))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()

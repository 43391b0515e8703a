"""Running an emulated tenant: ``EmulatorServer`` in-process, or ``benchsync emulator``."""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from werkzeug.serving import WSGIRequestHandler, make_server

from benchling_emulator.app import create_app
from benchling_emulator.auth import TokenIssuer
from benchling_emulator.clock import TenantClock
from benchling_emulator.delivery import WebhookDelivery
from benchling_emulator.events import AppInstallation, Event, envelope_body
from benchling_emulator.limits import FaultInjector, SlidingWindowLimiter
from benchling_emulator.seed import seeded_tenant
from benchling_emulator.services import EmulatorServices
from benchling_emulator.settings import EmulatorSettings, add_arguments, settings_from_args
from benchling_emulator.signing import WebhookSigner
from benchling_emulator.stats import Stats
from benchling_emulator.tenant import Tenant

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["EmulatorServer", "add_arguments", "environment", "serve", "tenant_url"]


class _QuietRequestHandler(WSGIRequestHandler):
    """No access log: a burst of thousands of API calls would drown the terminal."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class EmulatorServer:
    """A Benchling tenant serving HTTP on a background thread, from construction until stop()."""

    def __init__(self, settings: EmulatorSettings | None = None) -> None:
        self.settings = settings = settings or EmulatorSettings()
        listener = socket.create_server((settings.host, settings.port))
        self.port: int = listener.getsockname()[1]
        self.base_url = tenant_url(settings, self.port)
        self.jwks_url = f"{self.base_url}/api/v1/apps/{settings.app_definition_id}/jwks"
        self.installation = AppInstallation(
            self.base_url, settings.tenant_id, settings.app_id, settings.app_definition_id
        )
        self.stats = Stats()
        self.signer = WebhookSigner()
        self.delivery = WebhookDelivery(
            self.signer,
            self.stats,
            _random(settings.seed, "webhooks"),
            urls=settings.webhook_urls,
            rate=settings.webhook_rate,
            workers=settings.webhook_workers,
            max_attempts=settings.webhook_max_attempts,
            backoff_seconds=settings.webhook_backoff_seconds,
            timeout_seconds=settings.webhook_timeout_seconds,
            duplicate_rate=settings.duplicate_rate,
            shuffle=settings.shuffle,
        )
        clock = TenantClock()
        self.tenant = Tenant(
            seeded_tenant(clock),
            app_id=settings.app_id,
            base_url=self.base_url,
            bulk_get_missing=settings.bulk_get_missing,
            clock=clock,
            rng=_random(settings.seed, "tenant"),
            events=self._publish,
        )
        services = EmulatorServices(
            settings=settings,
            tenant=self.tenant,
            signer=self.signer,
            tokens=TokenIssuer(
                settings.client_id, settings.client_secret, settings.token_ttl_seconds
            ),
            limiter=SlidingWindowLimiter(settings.rate_limit, settings.rate_window_seconds),
            faults=FaultInjector(settings.fail_rate, _random(settings.seed, "faults")),
            delivery=self.delivery,
            stats=self.stats,
        )
        # The listener is bound first so that the tenant knows its URL (port 0 picks one).
        self._http = make_server(
            settings.host,
            self.port,
            create_app(services),
            threaded=True,
            request_handler=_QuietRequestHandler,
            fd=listener.fileno(),
        )
        listener.close()  # the server holds its own duplicate of the socket
        self._serving = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for the loop to notice
            name="emulator-http",
            daemon=True,
        )
        self.delivery.start()
        self._serving.start()
        self._stopped = False
        # Called with the bodies of every batch of webhooks published (tests check them).
        self.webhook_observers: list[Callable[[list[bytes]], None]] = []

    def wrap_app(self, middleware: Callable[[WSGIApplication], WSGIApplication]) -> None:
        """Serve every later request through ``middleware`` around the app (tests use it to
        check each answer against Benchling's OpenAPI document)."""
        self._http.app = middleware(self._http.app)

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and delivering; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._http.shutdown()
        self._http.server_close()
        self._serving.join()
        self.delivery.stop()

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Wait until no webhook is queued, retrying or in flight; False on timeout."""
        return self.delivery.wait_idle(timeout)

    def environment(self) -> dict[str, str]:
        """The variables that point benchsync at this tenant."""
        return environment(self.settings, self.base_url)

    def _publish(self, events: Sequence[Event]) -> None:
        self.stats.increment("events_emitted", len(events))
        form = self.settings.event_envelope
        bodies = [envelope_body(event, self.installation, form) for event in events]
        for observe in self.webhook_observers:
            observe(bodies)
        self.delivery.submit(bodies)


def tenant_url(settings: EmulatorSettings, port: int) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if settings.host in ("", "0.0.0.0") else settings.host  # noqa: S104
    return f"http://{host}:{port}"


def environment(settings: EmulatorSettings, base_url: str) -> dict[str, str]:
    return {
        "BENCHLING_TENANT_URL": base_url,
        "CLIENT_ID": settings.client_id,
        "CLIENT_SECRET": settings.client_secret,
        "APP_DEFINITION_ID": settings.app_definition_id,
        "BENCHLING_APP_ID": settings.app_id,
        "BENCHLING_JWKS_URL": f"{base_url}/api/v1/apps/{settings.app_definition_id}/jwks",
    }


def serve(args: argparse.Namespace) -> int:
    """``benchsync emulator``: serve until Ctrl-C or SIGTERM (or, with --print-env, just print)."""
    settings = settings_from_args(args)
    if getattr(args, "print_env", False):
        print(_dotenv(environment(settings, tenant_url(settings, settings.port))))
        return 0
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    with EmulatorServer(settings) as server:
        print(f"Benchling emulator serving at {server.base_url}", flush=True)
        print(_dotenv(server.environment()), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stopping.wait()
    return 0


def _dotenv(variables: dict[str, str]) -> str:
    return "\n".join(f"{name}={value}" for name, value in variables.items())


def _random(seed: int | None, purpose: str) -> random.Random:
    """An independent random stream per purpose, reproducible when a seed is given."""
    # Simulation, not security: a seedable generator is the point.
    return random.Random(f"{seed}:{purpose}" if seed is not None else None)  # noqa: S311

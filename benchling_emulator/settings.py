"""Everything that configures one emulated tenant, and the command-line flags that fill it."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Literal

BulkGetMissing = Literal["omit", "error"]
# How event webhooks come: the event as the message ("v0", as benchsync's manifest subscribes),
# or wrapped in an early-access "v0-beta.event.created" message (as Benchling's example App's
# manifest subscribes: registrations only).
EventEnvelope = Literal["v0", "v0-beta"]
EVENT_ENVELOPES: tuple[EventEnvelope, ...] = ("v0", "v0-beta")


@dataclass
class EmulatorSettings:
    host: str = "127.0.0.1"
    port: int = 8900  # 0 picks a free port
    public_url: str | None = None  # the tenant URL others should use; default http://host:port
    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"  # noqa: S105 - the emulator's published default
    app_id: str = "app_emulator0001"
    app_definition_id: str = "appdef_emulator01"
    tenant_id: str = "ten_emulator01"
    token_ttl_seconds: int = 3600
    # Benchling's documented limit for user keys: 60 requests in any 30 s.
    rate_limit: int = 60
    rate_window_seconds: float = 30.0
    fail_rate: float = 0.0
    bulk_get_missing: BulkGetMissing = "omit"
    webhook_urls: tuple[str, ...] = ()
    # Benchling's burst pace: about 1,000 events in 20 s.
    webhook_rate: float = 50.0
    webhook_workers: int = 4
    webhook_max_attempts: int = 6
    webhook_backoff_seconds: float = 1.0  # first retry delay; doubles per attempt
    webhook_timeout_seconds: float = 3.0  # Benchling's ack limit
    duplicate_rate: float = 0.0
    shuffle: bool = False
    seed: int | None = None
    # Changed at run time by POST /_emulator/event-envelope; read as each event is published.
    event_envelope: EventEnvelope = "v0"


def fraction(value: str) -> float:
    """A flag's value from 0 to 1."""
    number = float(value)
    if not 0.0 <= number <= 1.0:  # NaN included
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, not {value}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's flags; defaults come from ``EmulatorSettings``."""
    defaults = EmulatorSettings()
    add = parser.add_argument
    add("--host", default=defaults.host, help="interface to listen on (default %(default)s)")
    add("--port", type=int, default=defaults.port, help="0 picks a free port (default %(default)s)")
    add("--public-url", help="tenant URL to advertise, when not http://HOST:PORT")
    add("--client-id", default=defaults.client_id)
    add("--client-secret", default=defaults.client_secret)
    add("--app-id", default=defaults.app_id, help="the App's installation id")
    add("--app-definition-id", default=defaults.app_definition_id)
    add("--tenant-id", default=defaults.tenant_id)
    add(
        "--rate-limit",
        type=int,
        default=defaults.rate_limit,
        help="admitted /api/v2 requests per sliding 30 s window (default %(default)s)",
    )
    add(
        "--fail-rate",
        type=fraction,
        default=defaults.fail_rate,
        help="fraction of API calls answered 429 or 503 (default %(default)s)",
    )
    add(
        "--bulk-get-missing",
        choices=["omit", "error"],
        default=defaults.bulk_get_missing,
        help=":bulk-get with unknown ids: leave them out, or answer 404 (default %(default)s)",
    )
    add(
        "--webhook-url",
        action="append",
        dest="webhook_urls",
        default=[],
        help="where to deliver webhooks (repeatable)",
    )
    add(
        "--webhook-rate",
        type=float,
        default=defaults.webhook_rate,
        help="webhook POSTs per second (default %(default)s)",
    )
    add("--webhook-max-attempts", type=int, default=defaults.webhook_max_attempts)
    add(
        "--webhook-backoff",
        type=float,
        dest="webhook_backoff_seconds",
        default=defaults.webhook_backoff_seconds,
        help="seconds before the first redelivery; doubles each attempt",
    )
    add(
        "--duplicate-rate",
        type=fraction,
        default=defaults.duplicate_rate,
        help="fraction of webhooks delivered twice (default %(default)s)",
    )
    add("--shuffle", action="store_true", help="deliver queued webhooks in random order")
    add(
        "--event-envelope",
        choices=EVENT_ENVELOPES,
        default=defaults.event_envelope,
        help="v0: the event is the message; v0-beta: registrations come wrapped in a"
        " v0-beta.event.created message, as for Benchling's example App (default %(default)s)",
    )
    add("--seed", type=int, help="seed for ids, faults, duplicates and shuffling")
    add("--print-env", action="store_true", help="print the variables that point benchsync here")


def settings_from_args(args: argparse.Namespace) -> EmulatorSettings:
    """The settings named by the parsed flags (flags not given keep their defaults)."""
    given = vars(args)
    values = {
        field.name: given[field.name]
        for field in dataclasses.fields(EmulatorSettings)
        if given.get(field.name) is not None
    }
    values["webhook_urls"] = tuple(given.get("webhook_urls") or ())
    return EmulatorSettings(**values)

"""Settings read from the environment, each checked at once with a message naming its variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class ConfigurationError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


def _env(environ: Mapping[str, str], name: str) -> str | None:
    return environ.get(name, "").strip() or None


def _required_env(environ: Mapping[str, str], name: str) -> str:
    value = _env(environ, name)
    if value is None:
        raise ConfigurationError(f"{name} is not set")
    return value


def _client_secret(environ: Mapping[str, str]) -> str:
    secret_file = _env(environ, "CLIENT_SECRET_FILE")
    if secret_file:
        try:
            secret = Path(secret_file).read_text().strip()
        except OSError as error:
            message = f"CLIENT_SECRET_FILE: cannot read {secret_file}: {error.strerror}"
            raise ConfigurationError(message) from error
        if not secret:
            raise ConfigurationError(f"CLIENT_SECRET_FILE: {secret_file} is empty")
        return secret
    inline_secret = _env(environ, "CLIENT_SECRET")
    if inline_secret is None:
        raise ConfigurationError("set CLIENT_SECRET_FILE (or CLIENT_SECRET) to the App's secret")
    return inline_secret


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    return int(_positive_number(environ, name, default, int))


def _positive_number(
    environ: Mapping[str, str], name: str, default: float, kind: type[float] | type[int] = float
) -> float:
    raw = _env(environ, name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if value <= 0:
        noun = "integer" if kind is int else "number"
        raise ConfigurationError(f"{name} must be a positive {noun}, got {raw!r}")
    return value


@dataclass(frozen=True)
class BenchlingSettings:
    """Where the tenant is and how the App signs in (names as in Benchling's example app)."""

    tenant_url: str
    client_id: str
    client_secret: str = field(repr=False)
    app_definition_id: str | None
    app_id: str | None
    rate_limit: int  # requests per 30 s window that this deployment may spend
    retry_backoff_seconds: float  # first wait before retrying a 5xx (doubling), and least 429 wait

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> BenchlingSettings:
        tenant_url = _required_env(environ, "BENCHLING_TENANT_URL")
        if not tenant_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"BENCHLING_TENANT_URL must start with https://, got {tenant_url!r}"
            )
        return cls(
            tenant_url=tenant_url.rstrip("/"),
            client_id=_required_env(environ, "CLIENT_ID"),
            client_secret=_client_secret(environ),
            app_definition_id=_env(environ, "APP_DEFINITION_ID"),
            app_id=_env(environ, "BENCHLING_APP_ID"),
            rate_limit=_positive_int(environ, "BENCHSYNC_BENCHLING_RATE_LIMIT", 60),
            retry_backoff_seconds=_positive_number(
                environ, "BENCHSYNC_BENCHLING_RETRY_BACKOFF_SECONDS", 1.0
            ),
        )


@dataclass(frozen=True)
class SyncSettings:
    """How the sensor batches and retries, and what the checks hold it to."""

    max_batch_size: int  # events per run; whole hundreds fill bulk-get calls (1 = the seed's shape)
    max_runs_in_flight: (
        int  # the sensor holds new batches while this many runs are queued or running
    )
    max_attempts: int  # runs per batch before its events are dead-lettered
    max_pending_seconds: int  # the pending-age check fails beyond this
    config_refresh_seconds: int  # how long the App configuration is cached
    reconcile_cron: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SyncSettings:
        return cls(
            max_batch_size=_positive_int(environ, "BENCHSYNC_MAX_BATCH_SIZE", 1000),
            max_runs_in_flight=_positive_int(environ, "BENCHSYNC_MAX_RUNS_IN_FLIGHT", 2),
            max_attempts=_positive_int(environ, "BENCHSYNC_MAX_ATTEMPTS", 3),
            max_pending_seconds=_positive_int(environ, "BENCHSYNC_MAX_PENDING_SECONDS", 900),
            config_refresh_seconds=_positive_int(environ, "BENCHSYNC_CONFIG_REFRESH_SECONDS", 300),
            reconcile_cron=_env(environ, "BENCHSYNC_RECONCILE_CRON") or "0 2 * * *",
        )

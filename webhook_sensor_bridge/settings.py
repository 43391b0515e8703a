"""The bridge's settings, read from the environment, with errors that name the variable."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from benchsync_core import settings
from benchsync_core.settings import DATABASE_URL_VARIABLE, ConfigurationError
from webhook_sensor_bridge.events import Origin

APP_DEFINITION_ID_VARIABLE = "APP_DEFINITION_ID"
TENANT_URL_VARIABLE = "BENCHLING_TENANT_URL"
APP_ID_VARIABLE = "BENCHLING_APP_ID"
JWKS_URL_VARIABLE = "BENCHLING_JWKS_URL"
SKIP_VERIFICATION_VARIABLE = "BENCHSYNC_INSECURE_SKIP_VERIFICATION"

DEFAULT_JWKS_URL = "https://apps.benchling.com/api/v1/apps/{app_definition_id}/jwks"


@dataclass(frozen=True)
class Settings:
    database_url: str
    # None only when verification is off.
    jwks_url: str | None
    skip_verification: bool = False
    # Benchling rotates keys: a cached JWKS is refetched after this long.
    jwks_max_age_seconds: float = 6 * 3600
    # A signature no cached key verifies refetches the JWKS, but no more often than this.
    jwks_refetch_floor_seconds: float = 30.0
    # Webhooks from elsewhere are recorded as ignored (unset: any tenant, any installation).
    origin: Origin = field(default_factory=Origin)

    def check_host(self, host: str) -> None:
        """Refuse to serve beyond this machine without knowing the tenant: the bridge would
        record webhooks from any tenant the App is installed on, and the sync fetch their ids
        with this deployment's credentials. Loopback (the demo, the tests) may run without."""
        if self.origin.tenant_url is None and not is_loopback(host):
            raise ConfigurationError(
                f"{TENANT_URL_VARIABLE} is not set: a bridge serving on {host!r}, beyond this"
                " machine, must know its tenant, or it records webhooks from every tenant the"
                f" App is installed on; set {TENANT_URL_VARIABLE} (e.g."
                " https://my-tenant.benchling.com), or serve on 127.0.0.1"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        database_url = settings.required(
            DATABASE_URL_VARIABLE,
            "the bridge needs the Postgres that holds its inbox"
            " (e.g. postgresql://user@host:5432/benchsync)",
            environ,
        )
        origin = Origin(
            tenant_url=settings.optional(TENANT_URL_VARIABLE, environ),
            app_id=settings.optional(APP_ID_VARIABLE, environ),
            app_definition_id=settings.optional(APP_DEFINITION_ID_VARIABLE, environ),
        )
        if settings.flag(SKIP_VERIFICATION_VARIABLE, environ):
            return cls(
                database_url=database_url, jwks_url=None, skip_verification=True, origin=origin
            )
        app_definition_id = settings.required(
            APP_DEFINITION_ID_VARIABLE,
            "webhooks are verified against the JWKS of this App definition"
            " (Developer Console → your App, e.g. appdef_…)",
            environ,
        )
        jwks_url = settings.optional(JWKS_URL_VARIABLE, environ) or DEFAULT_JWKS_URL.format(
            app_definition_id=app_definition_id
        )
        if urlsplit(jwks_url).scheme not in ("http", "https"):
            raise ConfigurationError(
                f"{JWKS_URL_VARIABLE} must be an http(s) URL, got {jwks_url!r}"
            )
        return cls(database_url=database_url, jwks_url=jwks_url, origin=origin)


def is_loopback(host: str) -> bool:
    """Whether gunicorn bound to ``host`` listens on this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name, or "" (every interface)
        return False

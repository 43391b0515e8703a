"""The bridge's settings, read from the environment, with errors that name the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

# The same name as benchsync_dagster.database uses; not imported from there, so the bridge never
# loads the package that holds the Dagster code location.
DATABASE_URL_VARIABLE = "BENCHSYNC_DATABASE_URL"
APP_DEFINITION_ID_VARIABLE = "APP_DEFINITION_ID"
JWKS_URL_VARIABLE = "BENCHLING_JWKS_URL"
SKIP_VERIFICATION_VARIABLE = "BENCHSYNC_INSECURE_SKIP_VERIFICATION"

DEFAULT_JWKS_URL = "https://apps.benchling.com/api/v1/apps/{app_definition_id}/jwks"
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


class SettingsError(ValueError):
    """An environment variable is missing or malformed; the message names it."""


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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        database_url = environ.get(DATABASE_URL_VARIABLE, "").strip()
        if not database_url:
            raise SettingsError(
                f"{DATABASE_URL_VARIABLE} is not set: the bridge needs the Postgres that holds "
                "its inbox (e.g. postgresql://user@host:5432/benchsync)"
            )
        skip_verification = _flag(environ, SKIP_VERIFICATION_VARIABLE)
        if skip_verification:
            return cls(database_url=database_url, jwks_url=None, skip_verification=True)
        app_definition_id = environ.get(APP_DEFINITION_ID_VARIABLE, "").strip()
        if not app_definition_id:
            raise SettingsError(
                f"{APP_DEFINITION_ID_VARIABLE} is not set: webhooks are verified against the "
                "JWKS of this App definition (Developer Console → your App, e.g. appdef_…)"
            )
        jwks_url = environ.get(JWKS_URL_VARIABLE, "").strip() or DEFAULT_JWKS_URL.format(
            app_definition_id=app_definition_id
        )
        if urlsplit(jwks_url).scheme not in ("http", "https"):
            raise SettingsError(f"{JWKS_URL_VARIABLE} must be an http(s) URL, got {jwks_url!r}")
        return cls(database_url=database_url, jwks_url=jwks_url)


def _flag(environ: Mapping[str, str], variable: str) -> bool:
    value = environ.get(variable, "").strip().lower()
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    raise SettingsError(f"{variable} must be 1 or 0 (true/false, yes/no), got {value!r}")

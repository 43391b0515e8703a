"""Reading settings from the environment: every error names the variable it is about.

The bridge reads its settings with these; the Dagster code location gets its values through
``dg.EnvVar`` and checks them with ``positive`` and ``secret_from_file`` at first use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

DATABASE_URL_VARIABLE = "BENCHSYNC_DATABASE_URL"

Number = TypeVar("Number", int, float)

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


class ConfigurationError(ValueError):
    """A setting is missing or malformed; the message names its environment variable."""


def optional(variable: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """The variable's value stripped of surrounding whitespace; None when unset or blank."""
    return environ.get(variable, "").strip() or None


def required(variable: str, why: str, environ: Mapping[str, str] = os.environ) -> str:
    """The variable's value; a ConfigurationError saying ``why`` it is needed when unset."""
    value = optional(variable, environ)
    if value is None:
        raise ConfigurationError(f"{variable} is not set: {why}")
    return value


def flag(variable: str, environ: Mapping[str, str] = os.environ) -> bool:
    value = environ.get(variable, "").strip().lower()
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    raise ConfigurationError(f"{variable} must be 1 or 0 (true/false, yes/no), got {value!r}")


def positive(value: Number, variable: str) -> Number:
    """``value`` when above zero; else a ConfigurationError naming ``variable``."""
    if value <= 0:
        noun = "integer" if isinstance(value, int) else "number"
        raise ConfigurationError(f"{variable} must be a positive {noun}, got {value!r}")
    return value


def secret_from_file(path: str, variable: str) -> str:
    """The secret in the file at ``path``, stripped of surrounding whitespace."""
    try:
        secret = Path(path).read_text().strip()
    except OSError as error:
        raise ConfigurationError(f"{variable}: cannot read {path}: {error.strerror}") from error
    if not secret:
        raise ConfigurationError(f"{variable}: {path} is empty")
    return secret

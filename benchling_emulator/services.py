"""The running emulator's parts, as the HTTP routes reach them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app

from benchling_emulator.auth import TokenIssuer
from benchling_emulator.delivery import WebhookDelivery
from benchling_emulator.limits import FaultInjector, SlidingWindowLimiter
from benchling_emulator.settings import EmulatorSettings
from benchling_emulator.signing import WebhookSigner
from benchling_emulator.stats import Stats
from benchling_emulator.tenant import Tenant

EXTENSION_NAME = "benchling_emulator"


@dataclass(frozen=True)
class EmulatorServices:
    settings: EmulatorSettings
    tenant: Tenant
    signer: WebhookSigner
    tokens: TokenIssuer
    limiter: SlidingWindowLimiter
    faults: FaultInjector
    delivery: WebhookDelivery
    stats: Stats


def current_services() -> EmulatorServices:
    """The services of the app handling the current request."""
    return cast(EmulatorServices, current_app.extensions[EXTENSION_NAME])

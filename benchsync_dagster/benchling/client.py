"""benchling-sdk's client, every call of it paced (``pacing``) and gateway errors retried."""

from __future__ import annotations

from http import HTTPStatus

import httpx
from benchling_sdk.auth.client_credentials_oauth2 import ClientCredentialsOAuth2
from benchling_sdk.benchling import Benchling
from benchling_sdk.errors import BenchlingError
from benchling_sdk.helpers.retry_helpers import RetryStrategy

from benchsync_dagster.benchling.pacing import OUTAGE_STATUSES, PacedTransport


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says Benchling is unavailable, not that it refused something: no
    connection (or none in time), or a gateway error that outlasted the SDK's retries. The
    outermost Benchling answer in the chain decides; a context Python was told to suppress is
    not looked at."""
    cause: BaseException | None = error
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, BenchlingError):
            return cause.status_code in OUTAGE_STATUSES
        if isinstance(cause, httpx.TransportError):
            # A bad URL, or this process's own connection pool full: not Benchling's doing.
            return not isinstance(cause, httpx.UnsupportedProtocol | httpx.PoolTimeout)
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    return False


def build_client(
    tenant_url: str,
    client_id: str,
    client_secret: str,
    retry_backoff_seconds: float,
    transport: PacedTransport,
) -> Benchling:
    """A Benchling client whose every call (the token's too) goes through ``transport``."""
    http = httpx.Client(transport=transport, timeout=30.0)
    auth = ClientCredentialsOAuth2(
        client_id=client_id, client_secret=client_secret, httpx_client=http
    )
    # 429s are waited out by the transport; the SDK retries only gateway errors.
    retries = RetryStrategy(
        max_tries=3,
        backoff_factor=retry_backoff_seconds,
        status_codes_to_retry=tuple(HTTPStatus(status) for status in OUTAGE_STATUSES),
    )
    return Benchling(tenant_url, auth_method=auth, retry_strategy=retries, httpx_client=http)
